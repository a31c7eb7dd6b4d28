"""Settings from the environment, and back: what a worker hands its children."""

from digits.config import load_settings


def test_a_cluster_operators_settings_reach_every_child_process(tmp_path):
    env = {
        "DIGITS_JOBS_DIR": str(tmp_path / "jobs"),
        "DIGITS_ADVERTISE_ADDRESS": "gpu-7.cluster.example",
        "DIGITS_RENDEZVOUS_PORTS": "29500-29599",
    }
    settings = load_settings(env)
    assert settings.advertise_address == "gpu-7.cluster.example"
    assert settings.rendezvous_ports == (29500, 29599)
    handed_down = load_settings(settings.to_environment())
    assert (handed_down.advertise_address, handed_down.rendezvous_ports) == (
        "gpu-7.cluster.example",
        (29500, 29599),
    )
    one_port = load_settings(env | {"DIGITS_RENDEZVOUS_PORTS": "29500"})
    assert one_port.rendezvous_ports == (29500, 29500)
    assert load_settings(env | {"DIGITS_RENDEZVOUS_PORTS": ""}).rendezvous_ports is None
