"""The knowledge model.

The model file format, its validation and writer, the noisy-OR tables built
from it, and the evidence vocabulary.  The :class:`~bayesleg.model.Model`
facade joins this layer to the ones above.
"""
