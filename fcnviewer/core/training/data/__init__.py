"""Datasets: seeded synthetic scenes and segmentation folders (PASCAL VOC layout, images/ + masks/)."""
