from tests.conftest import find


def test_program_registers_app(run_stack, config):
    rec = run_stack(config)
    vs = find(rec, ":VirtualService", "front")
    assert vs.inputs["spec"]["http"][-1]["route"][0]["destination"]["subset"] == "blue"
