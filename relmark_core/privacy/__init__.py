"""Privacy and data care: consent per channel, suppression, erasure, access requests, backups."""
