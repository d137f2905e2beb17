"""The role-group catalogue: what people can request, and its IAM groups in AWS.

Changes are made by security admins through `services` (each writes its audit row in the
same transaction); `catalogue_sync` brings AWS in line with the catalogue."""
