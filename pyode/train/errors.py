"""Errors of a training run that are the user's to fix (the CLI prints them as one line)."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite: the run stops and nothing claims success."""
