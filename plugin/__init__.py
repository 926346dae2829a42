"""Everything of Serac that has a GUI: the plugin class, menus, dependency checks, review dock."""
