"""`manage.py scim_token create NAME [--scopes read,write,offboard]` (prints the token once),
`manage.py scim_token revoke NAME`, `manage.py scim_token list`: the identity provider's SCIM
bearer tokens, from the command line (on the operator's authority, audited as `system`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning.models import ScimToken
from provisioning.scim.selectors import scim_tokens
from provisioning.scim.tokens import (
    ALL_SCOPES,
    ScimTokenError,
    scim_token_create,
    scim_token_revoke,
)


class Command(BaseCommand):
    help = "Make, revoke or list the identity provider's SCIM bearer tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token and print it once")
        create.add_argument("name", help="e.g. okta or entra-prod")
        create.add_argument(
            "--scopes",
            default=",".join(ALL_SCOPES),
            help=f"comma-separated, among {', '.join(ALL_SCOPES)} (default: all)",
        )
        revoke = actions.add_parser("revoke", help="revoke a token at once")
        revoke.add_argument("name")
        actions.add_parser("list", help="list the tokens (never their values)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
                issued = scim_token_create(actor=None, name=options["name"], scopes=scopes)
                self.stderr.write(
                    f"Token {issued.token.name} ({', '.join(issued.token.scopes)}). It is shown "
                    "only now: the portal keeps only its hash."
                )
                self.stdout.write(issued.value)
            elif options["action"] == "revoke":
                token = ScimToken.objects.filter(name=options["name"].strip().lower()).first()
                if token is None:
                    raise CommandError(f"There is no token named {options['name']}.")
                if scim_token_revoke(actor=None, token=token):
                    self.stdout.write(f"Revoked {token.name}.")
                else:
                    self.stdout.write(f"{token.name} was revoked already.")
            else:
                for token in scim_tokens():
                    state = "revoked" if token.revoked_at else "active"
                    used = token.last_used_at.isoformat() if token.last_used_at else "never used"
                    self.stdout.write(f"{token.name}\t{state}\t{','.join(token.scopes)}\t{used}")
        except ScimTokenError as error:
            raise CommandError(str(error)) from None
