"""What every layer of ssgan_tf may use: the error base class, the command-line shell, file
helpers. Imports nothing of ssgan_tf."""
