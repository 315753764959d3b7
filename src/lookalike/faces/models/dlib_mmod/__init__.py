"""dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``) without dlib: ONNX Runtime or PyTorch.

* :mod:`.arch` — the network template; :mod:`.weights` — reading dlib's file, cached conversion;
* :mod:`.pyramid` — dlib's tiled image pyramid; :mod:`.postprocess` — scores → boxes, NMS;
* :mod:`.onnx_graph`, :mod:`.torch_net` — the runners; :mod:`.network` — dlib-equivalent detection;
* :mod:`.detector` — the face detector the pipeline uses (minimum face size, landmarks).
"""
