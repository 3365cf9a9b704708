# Shared by perf/run.sh and perf/ab.sh (sourced, not run).

# wait_for_port PORT: up to 10 s for something to listen on 127.0.0.1:PORT.
wait_for_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
