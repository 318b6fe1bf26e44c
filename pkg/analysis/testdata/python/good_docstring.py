# want:
"""A tool whose docstring says eval(), exec() and os.system("rm -rf /")."""


def main():
    """Never calls subprocess.run or __import__."""
    return 0
