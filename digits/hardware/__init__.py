"""This host's hardware: its GPUs (NVML), who holds each one (leases), and what a job uses."""
