# DIGITS on a GPU host:
#   docker build -t digits .
#   docker run --gpus all -p 5000:5000 -v digits-jobs:/jobs -e DIGITS_ADMIN_PASSWORD=... digits
# The server listens beyond loopback here, so it needs accounts: DIGITS_ADMIN_PASSWORD makes the
# first admin (user `admin`, or DIGITS_ADMIN_USER) when the jobs folder has none; without it and
# without accounts it refuses to start and says so. Users' code runs in a bubblewrap sandbox,
# which needs user namespaces inside the container (Docker's default seccomp profile refuses
# them: add `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, or
# DIGITS_ALLOW_UNSANDBOXED_CODE=1 if only trusted people have accounts; `digits serve` says
# at start which it is).
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip nodejs npm bubblewrap \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/digits
COPY . .
RUN ./install.sh && rm -rf node_modules /root/.cache

# An unprivileged user runs the server, its workers and every training (custom code included).
RUN useradd --system --uid 10001 --home-dir /jobs --shell /usr/sbin/nologin digits \
 && mkdir -p /jobs && chown digits:digits /jobs
USER digits

ENV PATH=/opt/digits/.venv/bin:$PATH \
    DIGITS_JOBS_DIR=/jobs
VOLUME /jobs
EXPOSE 5000
ENTRYPOINT ["digits", "serve", "--host", "0.0.0.0"]
