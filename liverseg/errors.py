"""Errors a user can cause. The CLI turns them into one line and a non-zero exit."""


class LiversegError(Exception):
    """Base class of every user-facing error; its message names the file and the problem."""


class InputError(LiversegError):
    """Bad input data: missing, truncated or inconsistent files."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OptionError(LiversegError):
    """An unknown or invalid option value."""
