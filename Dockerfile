# gitops with pinned helm, kustomize and sops, for CI systems that run jobs in an image
# (docs/ci.md). Multi-stage: the image holds the static binaries and git, runs as a non-root
# user, and has no compiler or package cache.
ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG GITOPS_BUILD_COMMIT=unknown
RUN GITOPS_BUILD_COMMIT=${GITOPS_BUILD_COMMIT} cargo build --release --locked --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/release/gitops /gitops

FROM debian:bookworm-slim AS tools
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG HELM_VERSION=3.19.0
ARG KUSTOMIZE_VERSION=5.7.1
ARG SOPS_VERSION=3.11.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN curl -fsSL "https://get.helm.sh/helm-v${HELM_VERSION}-linux-amd64.tar.gz" | tar -xz \
    && install -m 0755 linux-amd64/helm /usr/local/bin/helm \
    && curl -fsSL "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_amd64.tar.gz" | tar -xz \
    && install -m 0755 kustomize /usr/local/bin/kustomize \
    && curl -fsSL -o /usr/local/bin/sops "https://github.com/getsops/sops/releases/download/v${SOPS_VERSION}/sops-v${SOPS_VERSION}.linux.amd64" \
    && chmod 0755 /usr/local/bin/sops

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 gitops
COPY --from=build /gitops /usr/local/bin/gitops
COPY --from=tools /usr/local/bin/helm /usr/local/bin/kustomize /usr/local/bin/sops /usr/local/bin/
USER 10001
WORKDIR /home/gitops
ENTRYPOINT ["gitops"]
CMD ["--help"]
