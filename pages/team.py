"""Team: accounts and roles (admins only); in single-user mode, create the first admin."""

import streamlit as st

from relmark_core import accounts, auth
from relmark_core.auth import Role
from relmark_core.errors import InputRefused, RelmarkError
from relmark_ui import current
from relmark_ui.login import oidc_configured, sign_in_as

ROLES = [r.value for r in Role]
FLASH = "team_flash"

ctx = current()
st.title("Team")
team_on = auth.team_mode(ctx.conn)

if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

if not team_on:
    st.write(
        "Relmark runs in **single-user mode**: nobody signs in, and anyone who can open this "
        "address can change everything. To have colleagues sign in with their own role, create "
        "the first admin account. From then on everyone signs in (you stay signed in as the new "
        "admin), and an admin adds the others here."
    )
    with st.form("first_admin"):
        name = st.text_input("User name", key="first_admin_name", autocomplete="username")
        display = st.text_input("Your name (optional)", key="first_admin_display")
        email = st.text_input(
            "Work email (optional; for the company sign-in)", key="first_admin_email"
        )
        pw = st.text_input(
            "Password", type="password", key="first_admin_password",
            help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters.",
            autocomplete="new-password",
        )
        pw2 = st.text_input(
            "Password again", type="password", key="first_admin_password2",
            autocomplete="new-password",
        )
        create = st.form_submit_button("Create the first admin", type="primary")
    if create:
        try:
            if pw != pw2:
                raise InputRefused("The two passwords differ. Type the same one twice.")
            admin = accounts.create_first_admin(
                ctx.conn, name, pw, display_name=display, email=email or None, actor=ctx.actor
            )
            sign_in_as(ctx.conn, admin)
            st.session_state[FLASH] = (
                f"Team mode is on: you are signed in as {admin.user_name}, the first admin."
            )
            st.rerun()
        except RelmarkError as exc:
            st.error(str(exc))
elif auth.role_of(ctx.conn, ctx.actor) is not Role.ADMIN:
    st.info("Only an admin of this Relmark manages accounts and roles. Ask one if yours needs a change.")
else:
    users = accounts.list_users(ctx.conn)
    st.dataframe(
        [
            {
                "User name": u.user_name,
                "Name": u.display_name,
                "Email": u.email or "",
                "Role": u.role.value,
                "Status": "disabled" if u.disabled else "enabled",
                "Signs in with": "password" if u.has_password else "company account",
                "Changed": u.updated_at,
                "Changed by": u.updated_by,
            }
            for u in users
        ],
        hide_index=True,
        key="team_users",
    )
    st.caption(auth.ROLE_HELP)
    names = [u.user_name for u in users]

    st.subheader("Add a user")
    with st.form("add_user", clear_on_submit=False):
        c1, c2 = st.columns(2)
        new_name = c1.text_input("User name", key="add_name")
        new_role = c2.selectbox("Role", ROLES, index=0, key="add_role", help=auth.ROLE_HELP)
        new_display = c1.text_input("Name (optional)", key="add_display")
        new_email = c2.text_input(
            "Work email",
            key="add_email",
            help="Matches the company sign-in"
            + ("" if oidc_configured() else " (not set up in secrets.toml yet)")
            + "; optional when you give a password.",
        )
        new_pw = st.text_input(
            "Password (leave empty for a company sign-in only)", type="password", key="add_password",
            help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters. Tell it to the user "
            "privately; an admin can reset it later.",
            autocomplete="new-password",
        )
        add = st.form_submit_button("Add user", type="primary")
    if add:
        try:
            added = accounts.add_user(
                ctx.conn, new_name, role=Role(new_role), password=new_pw or None,
                display_name=new_display, email=new_email or None, actor=ctx.actor,
            )
            st.session_state[FLASH] = f"Added {added.user_name} as {added.role.value}."
            st.rerun()
        except RelmarkError as exc:
            st.error(str(exc))

    st.subheader("Change a user")
    who = st.selectbox("User", names, key="change_user")
    if who is not None:
        chosen = next(u for u in users if u.user_name == who)
        c1, c2, c3 = st.columns(3)
        with c1:
            role = st.selectbox(
                "Role", ROLES, index=ROLES.index(chosen.role.value), key="change_role",
                help=auth.ROLE_HELP,
            )
            if st.button("Change role", key="change_role_go"):
                try:
                    accounts.set_role(ctx.conn, who, Role(role), actor=ctx.actor)
                    st.session_state[FLASH] = f"{who} is now {role}."
                    st.rerun()
                except RelmarkError as exc:
                    st.error(str(exc))
        with c2:
            label = "Enable user" if chosen.disabled else "Disable user"
            st.caption(
                "A disabled user cannot sign in; their open sessions end. Their changes stay in "
                "the audit log."
            )
            if st.button(label, key="change_disable_go"):
                try:
                    accounts.set_disabled(ctx.conn, who, not chosen.disabled, actor=ctx.actor)
                    st.session_state[FLASH] = (
                        f"{who} is {'enabled' if chosen.disabled else 'disabled'}."
                    )
                    st.rerun()
                except RelmarkError as exc:
                    st.error(str(exc))
        with c3:
            new_password = st.text_input(
                "New password", type="password", key="change_password",
                autocomplete="new-password",
            )
            if st.button("Reset password", key="change_password_go"):
                try:
                    accounts.reset_password(ctx.conn, who, new_password, actor=ctx.actor)
                    st.session_state[FLASH] = (
                        f"{who} has a new password; their open sessions ended."
                    )
                    st.rerun()
                except RelmarkError as exc:
                    st.error(str(exc))
