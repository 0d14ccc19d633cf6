# Every install step of the project lives here; README's two commands call `make export` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= artifacts
# meshpose_blaze: the default model since its shipped weights beat meshpose_xs on real photos (issue 22).
VARIANT ?= meshpose_blaze
# The person detector of meshpose-predict, unzipped from the mediapipe wheel (see the end of this file).
DETECTOR := models/pose_detection.tflite
# The peer of meshpose-bench, from the same wheel: unzipping it costs nothing once the wheel is here.
PEER := benchmarks/peers/pose_landmark_full.tflite
# The pip config of the machine may point at a local torch CPU wheel; also look there explicitly.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
# This machine's pip config names index folders that may not exist; pip warns once per package.
PIP_FILTER := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup export test test-fast test-android-core lint params bench-cpu train-cpu clean

setup: $(STAMP) $(DETECTOR) $(PEER)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(PIP_FLAGS) -r requirements.txt -r requirements-dev.txt $(PIP_FILTER)
	# onnx2tf hard-pins old tensorflow/numpy/onnx but runs on the set above (docs/design.md).
	$(BIN)/pip install -q --no-deps onnx2tf==1.29.24 $(PIP_FILTER)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e . $(PIP_FILTER)
	touch $@

export: setup
	$(BIN)/meshpose-export --variant $(VARIANT) --target all --out $(OUT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint test-android-core test-android-app
	$(BIN)/python -m pytest -q

# The Android app's platform-free Java core against golden/ (offline Maven; versions pinned in its pom).
# Surefire's own summary is silenced by -q; the count and a pytest-style "N passed, N failed" line
# come from its reports, and zero tests run is a failure.
ANDROID_CORE := android_demo/core
test-android-core: setup
	@command -v mvn >/dev/null || { echo "error: Maven (mvn) and Java 17 are needed for the Android core tests; install them (android_demo/README.md)"; exit 1; }
	rm -rf $(ANDROID_CORE)/target/surefire-reports
	rc=0; (cd $(ANDROID_CORE) && mvn -o -q -B -Dstyle.color=never test) || rc=$$?; \
	$(BIN)/python scripts/junit_summary.py $(ANDROID_CORE)/target/surefire-reports --label "Android core (JUnit)" || rc=1; \
	exit $$rc

# The Kotlin app compiled by kotlinc (npm's kotlin-compiler at the Kotlin version of
# android_demo/build.gradle.kts, pinned with its integrity hash in compile_check/package-lock.json)
# against the real Java core and our small stubs of Google's libraries: it checks our code against
# our stubs, not against Google's libraries (android_demo/compile_check/README.md).
# After test-android-core, which has Maven resolve Gson into ~/.m2.
COMPILE_CHECK := android_demo/compile_check
KOTLINC := $(COMPILE_CHECK)/node_modules/kotlin-compiler/bin/kotlinc
.PHONY: test-android-app
test-android-app: test-android-core $(KOTLINC)
	$(COMPILE_CHECK)/compile.sh

$(KOTLINC): $(COMPILE_CHECK)/package.json $(COMPILE_CHECK)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm (Node.js) is needed to install the Kotlin compiler for the Android app's compile check; install it (apt-get install nodejs npm)"; exit 1; }
	@command -v javac >/dev/null || { echo "error: Java 17 (javac) is needed for the Android app's compile check; install it (android_demo/README.md)"; exit 1; }
	npm ci --prefix $(COMPILE_CHECK) --no-audit --no-fund
	touch $@

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

params: setup
	$(BIN)/meshpose-params

bench-cpu: setup
	$(BIN)/python benchmarks/cpu_latency.py

# CPU training experiments of docs/training.md (learning curve, bary vs nearest ablation,
# upsampler): about 25 minutes on 2 cores; writes docs/results/training-cpu.json and the curve PNG.
train-cpu: setup
	$(BIN)/python benchmarks/train_cpu.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info runs models

# Models unzipped from the mediapipe 0.10.21 wheel (Apache-2.0), never imported (mediapipe needs
# numpy<2); the wheel is fetched once with pip, nothing is downloaded at run time.
# - models/pose_detection.tflite: the person detector of meshpose-predict (export/runtime/detector.py), part of setup.
# - benchmarks/peers/pose_landmark_full.tflite: BlazePose GHUM full, the peer of meshpose-bench, part of setup (make peers).
# A pip install has no Makefile: `meshpose-models fetch` (meshpose_mobile/models_cli.py) unzips the same files
# from the same wheel into the user cache; meshpose_mobile.paths.find_model_file looks in both (and the SHA-256
# of each file is pinned there).
PEERS := benchmarks/peers
MEDIAPIPE_WHEEL_DIR := $(PEERS)/wheels
MEDIAPIPE_WHEEL_STAMP := $(MEDIAPIPE_WHEEL_DIR)/.downloaded
UNZIP_FROM_WHEEL = $(PYTHON) -c "import sys, zipfile, pathlib; w = sorted(pathlib.Path(sys.argv[1]).glob('mediapipe-0.10.21-*.whl'))[0]; \
		t = pathlib.Path(sys.argv[3]); t.parent.mkdir(parents=True, exist_ok=True); tmp = t.with_suffix('.tmp'); \
		tmp.write_bytes(zipfile.ZipFile(w).read(sys.argv[2])); tmp.replace(t)"
.PHONY: peers detector
peers: $(PEER)
detector: $(DETECTOR)

$(MEDIAPIPE_WHEEL_STAMP):
	mkdir -p $(MEDIAPIPE_WHEEL_DIR)
	$(PYTHON) -m pip download -q --no-deps mediapipe==0.10.21 --only-binary=:all: \
		--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
		-d $(MEDIAPIPE_WHEEL_DIR) $(PIP_FILTER)
	touch $@

$(PEER): $(MEDIAPIPE_WHEEL_STAMP)
	$(UNZIP_FROM_WHEEL) $(MEDIAPIPE_WHEEL_DIR) mediapipe/modules/pose_landmark/pose_landmark_full.tflite $@

$(DETECTOR): $(MEDIAPIPE_WHEEL_STAMP)
	$(UNZIP_FROM_WHEEL) $(MEDIAPIPE_WHEEL_DIR) mediapipe/modules/pose_detection/pose_detection.tflite $@

# Real photos of people for meshpose-eval-real (export/runtime/realphoto.py; judging models only, never training):
# three of OpenCV's sample files from Debian's opencv-doc, pinned to the version the boxes were drawn on
# (their SHA-256 are checked at run time). `apt-get download` needs no root; only these files are extracted.
# Not part of setup: the evaluation's other photos ship in the venv (scikit-image, matplotlib).
OPENCV_DOC := opencv-doc=4.6.0+dfsg-12
REALPHOTOS := models/photos
REALPHOTO_FILES := messi5.jpg basketball1.png vtest.avi
.PHONY: realphotos eval-real
realphotos: $(REALPHOTOS)/.extracted

$(REALPHOTOS)/.extracted:
	@command -v apt-get >/dev/null || { echo "error: apt-get (Debian) is needed to fetch opencv-doc; pass --photo-dir to meshpose-eval-real instead"; exit 1; }
	rm -rf $(REALPHOTOS)/.deb && mkdir -p $(REALPHOTOS)/.deb
	cd $(REALPHOTOS)/.deb && apt-get download -q $(OPENCV_DOC) 2>&1 | { grep -v "couldn't be accessed by user '_apt'" || true; }
	dpkg-deb --fsys-tarfile $(REALPHOTOS)/.deb/opencv-doc_*.deb | tar -x -C $(REALPHOTOS)/.deb \
		$(addprefix ./usr/share/doc/opencv-doc/examples/data/,$(REALPHOTO_FILES))
	mv $(addprefix $(REALPHOTOS)/.deb/usr/share/doc/opencv-doc/examples/data/,$(REALPHOTO_FILES)) $(REALPHOTOS)/
	rm -rf $(REALPHOTOS)/.deb
	touch $@

# meshpose_blaze and meshpose_xs against BlazePose on every photo: docs/results/realphoto.{json,md}, docs/images/realphoto/.
# Beside them a picture-blind mesh (every vertex at its mean over full-length synthetic bodies,
# benchmarks/blind_baseline.py, 26 s): on these mostly upright people it scores PCK@0.2 0.67 (0.85
# on the old crop), so each model's numbers are also stated above it (--baseline).
# BlazePose sees its own region (MediaPipe's, from the pose detector); the second run keeps the
# numbers of its earlier crop (each model's crop, squared) in docs/results/realphoto_model_crop/.
BLIND := runs/blind_full.pt
EVAL_REAL_MODELS := --model meshpose_blaze --model meshpose_xs --model $(BLIND) \
	--label meshpose_blaze --label meshpose_xs --label picture-blind --baseline picture-blind
eval-real: setup realphotos
	$(BIN)/python benchmarks/blind_baseline.py --out $(BLIND)
	$(BIN)/meshpose-eval-real $(EVAL_REAL_MODELS) --out docs/results --pictures docs/images/realphoto
	$(BIN)/meshpose-eval-real $(EVAL_REAL_MODELS) --peer-crop model --out docs/results/realphoto_model_crop --no-pictures
