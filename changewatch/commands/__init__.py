"""The subcommands of ``changewatch``, one module each."""
