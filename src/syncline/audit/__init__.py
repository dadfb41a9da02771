"""Quality audits: checks that write findings into the catalog."""
