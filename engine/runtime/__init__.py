"""Process instances at run time: loading, stepping, saving, history and incidents."""
