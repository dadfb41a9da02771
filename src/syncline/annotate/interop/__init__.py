"""Label formats other tools speak: Label Studio JSON, COCO and WebVTT/SRT, in and out."""
