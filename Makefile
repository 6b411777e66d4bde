# dojo — developer entry points. `make demo` and `make test` set up .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dojo-installed
# torch is installed first and pinned: an unpinned torch on a CPU machine can pull a CUDA build.
TORCH := torch==2.13.0

.PHONY: setup demo test lint format bench docs clean protos

$(STAMP): core/pyproject.toml plugins/ppo/pyproject.toml plugins/rewards/pyproject.toml plugins/sac/pyproject.toml plugins/unity/pyproject.toml plugins/imitation/pyproject.toml pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e './core[test]' -e ./plugins/ppo -e ./plugins/rewards -e ./plugins/sac -e ./plugins/unity -e ./plugins/imitation pytest ruff grpcio-tools==1.85.1
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/mlagents-learn configs/ppo/CartPole.yaml --run-id=demo --force --seed=0
	@echo "Artifacts in results/demo/ (TensorBoard: tensorboard --logdir results)"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m pip install --quiet "stable-baselines3>=2.3" matplotlib
	$(BIN)/python benchmarks/compare.py

# The configuration reference is generated from the schemas, the hook reference from
# dojo/hookspecs.py (tests/docs checks that both are current).
docs: setup
	$(BIN)/dojo config reference > docs/configuration.md
	$(BIN)/dojo plugins --hooks-reference > docs/hooks.md

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache

# Regenerate the checked-in protocol code from plugins/unity/protos (grpcio-tools must produce
# gencode for the protobuf runtime pinned in plugins/unity/pyproject.toml: grpcio-tools 1.85 ->
# protobuf 7.x). No gRPC stubs are generated: dojo serves Exchange through a generic handler
# (dojo_unity/server.py).
PROTO_SRC := plugins/unity/protos
PROTO_PACKAGE := plugins/unity/src/dojo_unity
PROTO_OUT := $(PROTO_PACKAGE)/communicator_objects
protos: setup
	rm -f $(PROTO_OUT)/*_pb2.py $(PROTO_OUT)/*_pb2.pyi
	$(BIN)/python -m grpc_tools.protoc -I $(PROTO_SRC) --python_out=$(PROTO_PACKAGE) \
		--pyi_out=$(PROTO_PACKAGE) $(PROTO_SRC)/communicator_objects/*.proto
	# Generated imports are absolute ("from communicator_objects import x_pb2"): make them package-relative.
	sed -i -E 's/^from communicator_objects import /from . import /' $(PROTO_OUT)/*_pb2.py $(PROTO_OUT)/*_pb2.pyi
