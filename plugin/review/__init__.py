"""Manual review of predicted glacier outlines and calving fronts.

``fields``  — the review fields and adding them to any polygon/line layer;
``session`` — stepping through features and recording decisions (no widgets; tested headless);
``export``  — writing the reviewed set (training labels) and its summary;
``dock``    — the "Outline review" dock widget on top of these.
"""
