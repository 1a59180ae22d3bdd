"""wordrec: isolated-word speech recognition with GMM-HMMs.

The public Python API mirrors the command line::

    from wordrec import train_folder, load_model, recognize_files
"""

__version__ = "0.1.0"
