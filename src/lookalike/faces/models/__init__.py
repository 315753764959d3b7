"""Model families, one sub-package each. A new family is a folder plus one registration line below."""

from __future__ import annotations

from lookalike.faces.models import dlib_resnet, trained

dlib_resnet.register()
trained.register()  # models saved by `lookalike train` in the models folder
