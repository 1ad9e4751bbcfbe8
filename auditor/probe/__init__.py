"""Pure parsers for what sits inside objects (EXIF, MP4 boxes, COCO JSON): bytes in, facts out."""
