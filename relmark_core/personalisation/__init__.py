"""Personalisation: product and category affinity, and next-best product and upsell
suggestions per customer (:mod:`.affinity`, :mod:`.recommend`)."""
