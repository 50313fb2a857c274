"""Datasets: labelled images from folders, manifests, Hugging Face datasets, npz files."""

from cotclip.scoring.data._base import Crop, Dataset

__all__ = ["Crop", "Dataset"]
