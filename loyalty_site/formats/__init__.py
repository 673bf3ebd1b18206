"""Format modules for languages Django ships no formats for (FORMAT_MODULE_PATH)."""
