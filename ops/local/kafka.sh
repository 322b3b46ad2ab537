#!/usr/bin/env bash
# ops/local/kafka.sh — a local single-node Apache Kafka broker (KRaft, no
# ZooKeeper, no Docker) for Observatory development and tests.
#
# The broker's jars come from Maven Central through ops/local/kafka/pom.xml
# (version chosen in docs/adr/0001-kafka-version.md) into a git-ignored cache;
# config, data and logs live under the git-ignored run directory.
set -euo pipefail

PROG=kafka
# shellcheck source=ops/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
Usage: ops/local/kafka.sh COMMAND

Local single-node Apache Kafka broker (KRaft: broker+controller, node.id=1).

Commands:
  fetch    copy the broker jars from Maven Central (mvn) into the cache;
           does nothing when the cache is already complete
  start    fetch if needed, format storage on first start, start the broker
           in the background and wait until it answers metadata requests;
           prints "kafka: 127.0.0.1:PORT". Already running: says so, exit 0
  stop     SIGTERM, wait, SIGKILL after the timeout; exit 0 if not running
  status   one line: running (pid, address) or stopped; exit 0 when running,
           3 when stopped
  version  print the pinned Kafka version
  address  print the bootstrap address (host:port)

Environment:
  OBS_CACHE                  cache dir            (default: <repo>/.cache)
                             jars: \$OBS_CACHE/kafka-<version>/libs
  OBS_RUN                    run dir              (default: <repo>/.run)
                             config, data, logs, pid: \$OBS_RUN/kafka/
  OBS_KAFKA_PORT             PLAINTEXT listener   (default: 19092)
  OBS_KAFKA_CONTROLLER_PORT  KRaft controller     (default: 19093)
  OBS_KAFKA_HEAP_OPTS        JVM heap             (default: -Xmx512m -Xms256m)
  OBS_KAFKA_START_TIMEOUT    seconds to wait for the broker (default: 60)
  OBS_KAFKA_STOP_TIMEOUT     seconds before SIGKILL          (default: 30)
  JAVA_HOME                  Java 17+ to use      (default: java on PATH)

Files: \$OBS_RUN/kafka/{server.properties,log4j2.properties,kafka.pid,
server.log,kafka.out,data/}. Remove \$OBS_RUN/kafka (stopped) to start afresh.
EOF
}

KAFKA_POM=$OBS_LOCAL_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$KAFKA_POM" | head -n1)
[[ -n $KAFKA_VERSION ]] || die "cannot read <kafka.version> from $KAFKA_POM"

KAFKA_HOME=$OBS_CACHE_DIR/kafka-$KAFKA_VERSION
KAFKA_LIBS=$KAFKA_HOME/libs
KAFKA_MARKER=$KAFKA_HOME/.complete
RUN=$OBS_RUN_DIR/kafka
PIDFILE=$RUN/kafka.pid
HOST=127.0.0.1
PORT=${OBS_KAFKA_PORT:-19092}
CPORT=${OBS_KAFKA_CONTROLLER_PORT:-19093}
ADDR=$HOST:$PORT
HEAP_OPTS=${OBS_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
START_TIMEOUT=${OBS_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${OBS_KAFKA_STOP_TIMEOUT:-30}

for v in PORT CPORT START_TIMEOUT STOP_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "bad $v value '${!v}': expected a number"
done
[[ $PORT != "$CPORT" ]] || die "OBS_KAFKA_PORT and OBS_KAFKA_CONTROLLER_PORT are both $PORT"

# Marker content: the pom's checksum, so editing the pom invalidates the cache.
pom_sum() { sha256sum "$KAFKA_POM" | cut -d' ' -f1; }

cache_complete() {
    [[ -f $KAFKA_MARKER && -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] &&
        [[ $(cat "$KAFKA_MARKER") == "$(pom_sum)" ]]
}

cmd_fetch() {
    cache_complete && return 0
    command -v mvn >/dev/null || die "mvn not found; run ops/local/deps.sh"
    ensure_dir "$KAFKA_HOME"
    exec 8>"$KAFKA_HOME/.lock"
    flock 8
    if cache_complete; then exec 8>&-; return 0; fi
    local tmp=$KAFKA_HOME/libs.tmp log=$KAFKA_HOME/fetch.log rc=0
    rm -rf "$tmp"
    mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then
        local why
        why=$(grep -m1 -E '\[ERROR\]' "$log" | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^\[ERROR\] *//' || true)
        die "fetch of Kafka $KAFKA_VERSION failed (mvn exit $rc): ${why:-see log}; log: $log"
    fi
    [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] ||
        die "fetch of Kafka $KAFKA_VERSION incomplete: no kafka_2.13-$KAFKA_VERSION.jar; log: $log"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    pom_sum >"$KAFKA_MARKER"
    exec 8>&-
}

# find_java — print a java binary of version 17 or newer.
find_java() {
    local cand major
    for cand in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*/bin/java; do
        [[ -n $cand && -x $cand ]] || continue
        major=$("$cand" -XshowSettings:properties -version 2>&1 |
            sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1)
        if [[ -n $major ]] && ((major >= 17)); then
            printf '%s\n' "$cand"
            return 0
        fi
    done
    return 1
}

# running_pid — print the broker's pid if our broker is running.
running_pid() {
    local pid
    pid=$(read_pid "$PIDFILE") || return 1
    pid_alive "$pid" && pid_cmdline_has "$pid" "kafka.Kafka $RUN/server.properties" || return 1
    printf '%s\n' "$pid"
}

broker_answers() {
    if command -v kcat >/dev/null; then
        kcat -L -b "$ADDR" -m 2 >/dev/null 2>&1
    else
        tcp_open "$HOST" "$PORT"
    fi
}

write_config() {
    cat >"$RUN/server.properties.tmp" <<EOF
# Generated by ops/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN/data
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
log.retention.hours=87600
log.retention.check.interval.ms=300000
log.segment.bytes=134217728
num.network.threads=2
num.io.threads=4
EOF
    mv "$RUN/server.properties.tmp" "$RUN/server.properties"

    cat >"$RUN/log4j2.properties" <<EOF
# Generated by ops/local/kafka.sh: everything goes to $RUN/server.log.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $RUN/server.log
appender.file.filePattern = $RUN/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 100MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

storage_tool() {
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="file:$RUN/log4j2.properties" \
        -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool "$@"
}

# lock_run — serialise start/stop of this broker (e.g. under make -j).
lock_run() {
    ensure_dir "$RUN"
    exec 9>"$RUN/.lock"
    flock -w 120 9 || die "another kafka.sh holds $RUN/.lock"
}

cmd_start() {
    local pid
    lock_run
    if pid=$(running_pid); then
        echo "kafka: already running (pid $pid) at $ADDR"
        return 0
    fi
    rm -f "$PIDFILE"
    if tcp_open "$HOST" "$PORT"; then
        die "port $PORT on $HOST is in use by another process (set OBS_KAFKA_PORT)"
    fi
    if tcp_open "$HOST" "$CPORT"; then
        die "port $CPORT on $HOST is in use by another process (set OBS_KAFKA_CONTROLLER_PORT)"
    fi
    JAVA=$(find_java) || die "Java 17 or newer not found (Kafka $KAFKA_VERSION needs it); run ops/local/deps.sh"
    cmd_fetch
    ensure_dir "$RUN"
    write_config

    if [[ ! -f $RUN/data/meta.properties ]]; then
        local id
        rm -rf "$RUN/data"
        id=$(storage_tool random-uuid 2>"$RUN/format.log" | tail -n1) ||
            die "cannot generate a cluster id; see $RUN/format.log"
        storage_tool format --cluster-id "$id" --config "$RUN/server.properties" \
            --standalone >>"$RUN/format.log" 2>&1 ||
            die "storage format failed; see $RUN/format.log"
    fi

    # Detach: own session, no terminal, stdin from /dev/null, lock fd closed
    # (else the broker would hold the start/stop lock). Without job
    # control the background child is not a group leader, so setsid execs
    # java in place and $! is the broker's pid.
    # shellcheck disable=SC2086
    (cd "$RUN" && exec setsid nohup "$JAVA" $HEAP_OPTS \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="file:$RUN/log4j2.properties" \
        -Dkafka.logs.dir="$RUN" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$RUN/server.properties" \
        >>"$RUN/kafka.out" 2>&1 </dev/null 9>&-) &
    pid=$!
    echo "$pid" >"$PIDFILE"

    local deadline=$((SECONDS + START_TIMEOUT))
    while ! broker_answers; do
        if ! pid_alive "$pid"; then
            rm -f "$PIDFILE"
            die "broker exited during start; see $RUN/server.log and $RUN/kafka.out"
        fi
        if ((SECONDS >= deadline)); then
            die "broker (pid $pid) not answering on $ADDR after ${START_TIMEOUT}s; see $RUN/server.log (still running; 'kafka.sh stop' to end it)"
        fi
        sleep 0.5
    done
    echo "kafka: $ADDR"
}

cmd_stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        return 0
    fi
    lock_run
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_pid_gone "$pid" "$STOP_TIMEOUT"; then
        echo "kafka: pid $pid still running after ${STOP_TIMEOUT}s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_gone "$pid" 10 || die "pid $pid survived SIGKILL"
    fi
    rm -f "$PIDFILE"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "kafka: running pid $pid $ADDR (Kafka $KAFKA_VERSION)"
    else
        echo "kafka: stopped $ADDR"
        return 3
    fi
}

case ${1:-} in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    version) echo "$KAFKA_VERSION" ;;
    address) echo "$ADDR" ;;
    -h | --help | help) usage ;;
    "") usage_error "missing command: fetch|start|stop|status" ;;
    *) usage_error "unknown command '$1': fetch|start|stop|status" ;;
esac
