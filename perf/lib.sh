# Shared by the perf/ scripts and .ci/run (sourced, not run).

# as_root COMMAND...: COMMAND as root: directly when already root, else through sudo.
as_root() {
    if (($(id -u) == 0)); then "$@"; else sudo "$@"; fi
}

# install_debian_packages PACKAGE...: apt-get install, without questions (the variable is passed
# through `env`, which sudo's environment reset would drop); the package lists are refreshed
# only if the first attempt fails (a fresh machine's may be stale or absent).
install_debian_packages() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
        { as_root apt-get update -q &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; }
}

# wait_for_port PORT: up to 10 s for something to listen on 127.0.0.1:PORT.
wait_for_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
