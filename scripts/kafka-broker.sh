#!/usr/bin/env bash
# Start/stop a throwaway single-node Apache Kafka 4.x broker (KRaft, combined
# broker+controller) on loopback for integration tests. Everything comes from
# Maven Central via scripts/kafka-broker/pom.xml: no Docker, no Kafka tarball.
#
# Usage:
#   scripts/kafka-broker.sh start     [STATE_DIR]  # prints bootstrap address last
#   scripts/kafka-broker.sh stop      [STATE_DIR]  # idempotent
#   scripts/kafka-broker.sh status    [STATE_DIR]  # "running"/"stopped"; exit 0/3
#   scripts/kafka-broker.sh bootstrap [STATE_DIR]  # 127.0.0.1:PORT (fails if stopped)
#   scripts/kafka-broker.sh kill      [STATE_DIR]  # SIGKILL the broker; data and ports are kept
#   scripts/kafka-broker.sh resume    [STATE_DIR]  # start it again on the same data and ports
#   scripts/kafka-broker.sh tool CLASS [ARGS...]   # run a Kafka CLI class, e.g.
#       scripts/kafka-broker.sh tool org.apache.kafka.tools.TopicCommand \
#         --bootstrap-server "$(scripts/kafka-broker.sh bootstrap)" --list
#
# Cluster mode: three KRaft nodes on loopback (each broker+controller, one
# quorum of three voters), small heaps, topics created with replication
# factor 3 and min.insync.replicas 2 by default. STATE_DIR defaults to
# $KAFKA_CLUSTER_STATE_DIR, else <repo>/target/kafka-cluster.
#   scripts/kafka-broker.sh cluster start     [STATE_DIR]  # prints the bootstrap list last
#   scripts/kafka-broker.sh cluster stop      [STATE_DIR]
#   scripts/kafka-broker.sh cluster status    [STATE_DIR]  # one line per node
#   scripts/kafka-broker.sh cluster bootstrap [STATE_DIR]
#   scripts/kafka-broker.sh cluster kill N    [STATE_DIR]  # SIGKILL node N (1..3)
#   scripts/kafka-broker.sh cluster resume N  [STATE_DIR]  # restart node N on its data
#
# STATE_DIR defaults to $KAFKA_BROKER_STATE_DIR, else <repo>/target/kafka-broker.
# Environment knobs:
#   KAFKA_VERSION         Kafka release to resolve (default 4.1.1; any 4.x)
#   KAFKA_NUM_PARTITIONS  num.partitions for auto-created topics (default 1)
#   KAFKA_HEAP_OPTS       broker heap flags (default "-Xmx1g -Xms256m";
#                         cluster nodes: "-Xmx384m -Xms128m")
#   KAFKA_JVM_OPTS        extra broker JVM flags (e.g. -XX:TieredStopAtLevel=1
#                         to start faster on a busy machine, at some throughput)
#   KAFKA_START_TIMEOUT   seconds to wait for readiness (default 120)
#   JAVA_HOME, MVN        which java / mvn to use
#
# Every start is a fresh cluster (data dir wiped, new ports, new cluster id);
# only the resolved classpath is cached, so later starts skip Maven entirely.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
POM="$SCRIPT_DIR/kafka-broker/pom.xml"

KAFKA_VERSION_SET=${KAFKA_VERSION:+1}
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
NUM_PARTITIONS=${KAFKA_NUM_PARTITIONS:-1}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
MVN=${MVN:-mvn}
if [[ -n ${JAVA_HOME:-} ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi
# Word-splitting of the heap flags is intended (same contract as Kafka's scripts).
read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}"
read -r -a EXTRA_JVM_OPTS <<<"${KAFKA_JVM_OPTS:-}"

# 64 MiB frames: the library may ship large batches.
MAX_MESSAGE_BYTES=67108864
READY_TOPIC=mb-ready

log() { printf 'kafka-broker: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the header comment above; exit code $1 (default 2 = misuse).
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit "${1:-2}"
}

# --- paths -----------------------------------------------------------------

# $1: STATE_DIR argument (may be empty); $2: "create" to mkdir it. status/
# stop/bootstrap on a missing directory just report "not running".
set_state_dir() {
  local dir=${1:-${KAFKA_BROKER_STATE_DIR:-$REPO_ROOT/target/kafka-broker}}
  if [[ ${2:-} == create ]]; then mkdir -p -- "$dir"; fi
  if [[ -d $dir ]]; then
    STATE_DIR=$(cd -- "$dir" && pwd -P)
  else
    STATE_DIR=$dir
  fi
  CP_FILE="$STATE_DIR/classpath"
  CP_KEY_FILE="$STATE_DIR/classpath.key"
  SERVER_PROPS="$STATE_DIR/server.properties"
  BROKER_LOG4J="$STATE_DIR/log4j2-broker.properties"
  TOOLS_LOG4J="$STATE_DIR/log4j2-tools.properties"
  PROBE_PROPS="$STATE_DIR/probe.properties"
  DATA_DIR="$STATE_DIR/data"
  BROKER_LOG="$STATE_DIR/broker.log"
  READY_LOG="$STATE_DIR/ready-check.log"
  PID_FILE="$STATE_DIR/broker.pid"
  BOOTSTRAP_FILE="$STATE_DIR/bootstrap"
}

# Serialise start/stop on one STATE_DIR (parallel test jobs may race to start
# the same broker; the loser then finds it running and reuses it).
lock_state_dir() {
  command -v flock >/dev/null || return 0
  exec 9>"$STATE_DIR/.lock"
  flock -w $((START_TIMEOUT + 60)) 9 || die "timed out waiting for lock on $STATE_DIR"
}

# --- process helpers -------------------------------------------------------

# Prints the pid of *our* broker if it is alive; guards against a stale pid
# file whose pid was recycled by an unrelated process.
running_pid() {
  [[ -s ${PID_FILE:-} ]] || return 1
  local pid args
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *kafka.Kafka*"$SERVER_PROPS"* ]] || return 1
  printf '%s\n' "$pid"
}

# SIGTERM lets Kafka shut down cleanly (controlled shutdown, flush); SIGKILL
# only if it has not exited after 30 s.
terminate() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "broker $pid ignored SIGTERM for 30 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -Htan "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Random port below Linux's ephemeral range (32768+), so outgoing client
# sockets cannot grab it between our check and the broker's bind.
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ $port != "${1:-}" ]] || continue
    port_in_use "$port" || { printf '%s\n' "$port"; return 0; }
  done
  die "no free loopback port found"
}

# Kafka cluster ids are 16 random bytes in unpadded base64url. Generating it
# here saves a JVM start (StorageTool random-uuid); Kafka itself avoids ids
# starting with '-' because they look like CLI flags.
random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id == -* ]] || break
  done
  printf '%s\n' "$id"
}

# --- classpath -------------------------------------------------------------

classpath_complete() {
  local jars jar
  IFS=: read -r -a jars <"$CP_FILE"
  ((${#jars[@]} > 0)) || return 1
  for jar in "${jars[@]}"; do [[ -f $jar ]] || return 1; done
}

# Resolve once with Maven, then reuse the cached classpath: later starts need
# neither Maven nor the network. The key invalidates it when the pom or the
# requested version changes; the jar check catches a wiped ~/.m2.
resolve_classpath() {
  local key
  key="$KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -s $CP_FILE && -f $CP_KEY_FILE && $(<"$CP_KEY_FILE") == "$key" ]] && classpath_complete; then
    CLASSPATH_VALUE=$(<"$CP_FILE")
    return 0
  fi
  command -v "$MVN" >/dev/null || die "'$MVN' not found (needed once to resolve Kafka jars)"
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven (first start only)..."
  rm -f "$CP_FILE" "$CP_KEY_FILE"
  if ! "$MVN" -q -B -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
    dependency:build-classpath -Dmdep.includeScope=runtime \
    -Dmdep.outputFile="$CP_FILE.tmp" >"$STATE_DIR/mvn.log" 2>&1; then
    tail -n 40 "$STATE_DIR/mvn.log" >&2
    die "Maven could not resolve Kafka $KAFKA_VERSION (full log: $STATE_DIR/mvn.log)"
  fi
  mv -f "$CP_FILE.tmp" "$CP_FILE"
  classpath_complete || die "Maven produced an incomplete classpath in $CP_FILE"
  printf '%s\n' "$key" >"$CP_KEY_FILE"
  CLASSPATH_VALUE=$(<"$CP_FILE")
}

# JVM prefix for short-lived CLI tools: small heap, C1 only and serial GC
# start noticeably faster on a 2-core machine.
tool_cmd() {
  TOOL=("$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$TOOLS_LOG4J"
    -cp "$CLASSPATH_VALUE")
}

# --- config files ----------------------------------------------------------

write_configs() {
  local port=$1 cport=$2
  cat >"$SERVER_PROPS" <<EOF
# Generated by scripts/kafka-broker.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
# Static single-voter quorum: formats without --standalone/--initial-controllers
# and behaves the same on every 4.x release.
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR

# Single node: every internal topic must accept replication factor 1.
num.partitions=$NUM_PARTITIONS
default.replication.factor=1
offsets.topic.replication.factor=1
# 50 partitions (the default) for these internal topics only slows the first
# consumer-group / transactional use on a one-node test broker.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
# Tests should not wait 3 s for the first consumer-group rebalance.
group.initial.rebalance.delay.ms=0

# Large frames (64 MiB records/batches); request size must cover them.
message.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.max.bytes=$MAX_MESSAGE_BYTES
socket.request.max.bytes=104857600
EOF

  # Broker logs go to stdout, which start() redirects to broker.log together
  # with anything the JVM itself prints (crashes, bad flags).
  # shutdownHook=disable: log4j's own hook would otherwise stop logging as
  # soon as SIGTERM arrives, hiding Kafka's controlled-shutdown messages.
  cat >"$BROKER_LOG4J" <<'EOF'
status = warn
name = kafka-broker
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

  write_tools_log4j

  # Client settings for the readiness probe (shared by its admin, producer
  # and consumer): fail a request to a half-started broker fast and retry.
  cat >"$PROBE_PROPS" <<'EOF'
request.timeout.ms=10000
default.api.timeout.ms=15000
delivery.timeout.ms=20000
EOF
}

# CLI tools log warnings to stderr only, so their stdout stays parseable.
write_tools_log4j() {
  cat >"$TOOLS_LOG4J" <<'EOF'
status = warn
name = kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# --- readiness -------------------------------------------------------------

tail_broker_log() {
  log "last lines of $BROKER_LOG:"
  tail -n 40 "$BROKER_LOG" >&2 || true
}

remaining() { echo $((DEADLINE - $(date +%s))); }

# One end-to-end probe in a single JVM: EndToEndLatency creates the topic
# (1 partition) if needed, produces a record with acks=all, reads it back
# with a consumer and commits its offset, exiting non-zero on any failure.
# An open port alone is not enough: the broker accepts connections before
# the controller has elected itself and before it can host partitions.
# Each attempt is capped so a wedged one still leaves time for a retry.
probe_ready() {
  local bootstrap=$1 t
  t=$(remaining)
  ((t > 0)) || return 1
  ((t <= 45)) || t=45
  timeout "$t" "${TOOL[@]}" org.apache.kafka.tools.EndToEndLatency \
    "$bootstrap" "$READY_TOPIC" 1 all 64 "$PROBE_PROPS" >>"$READY_LOG" 2>&1 9>&-
}

wait_ready() {
  local pid=$1 port=$2 bootstrap=$3
  # Cheap wait for the listener first, so the JVM-heavy probe runs only when
  # it has a chance to succeed.
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 2
    (($(remaining) > 0)) || return 1
    sleep 0.2
  done
  until probe_ready "$bootstrap"; do
    kill -0 "$pid" 2>/dev/null || return 2
    (($(remaining) > 0)) || return 1
    sleep 1
  done
}

# Starts one broker JVM in the background: $1 server.properties, $2 log,
# $3 pid file, the rest heap flags. nohup: the broker must outlive the
# calling shell/terminal. stdin/stdout are detached so
# "$(kafka-broker.sh start)" does not wait for the broker.
launch() {
  local props=$1 logf=$2 pidf=$3
  shift 3
  nohup "$JAVA" "$@" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$BROKER_LOG4J" \
    "-Dkafka.logs.dir=$(dirname -- "$logf")" ${EXTRA_JVM_OPTS[@]+"${EXTRA_JVM_OPTS[@]}"} \
    -cp "$CLASSPATH_VALUE" \
    kafka.Kafka "$props" </dev/null >>"$logf" 2>&1 9>&- &
  printf '%s\n' "$!" >"$pidf"
}

# --- commands --------------------------------------------------------------

cmd_start() {
  set_state_dir "${1:-}" create
  lock_state_dir
  local pid
  if pid=$(running_pid) && [[ -s $BOOTSTRAP_FILE ]]; then
    log "already running (pid $pid)"
    cat "$BOOTSTRAP_FILE"
    return 0
  fi
  if pid=$(running_pid); then
    # Running but never became ready (e.g. an interrupted start): restart.
    terminate "$pid"
  fi
  rm -f "$PID_FILE" "$BOOTSTRAP_FILE"

  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME)"
  local t0 port cport bootstrap cluster_id rc
  t0=$(date +%s%N)
  DEADLINE=$(($(date +%s) + START_TIMEOUT))
  resolve_classpath
  tool_cmd

  port=$(free_port)
  cport=$(free_port "$port")
  bootstrap="127.0.0.1:$port"
  # Fresh cluster on every start: tests must not see topics or offsets from a
  # previous run, and the controller port changes anyway.
  rm -rf -- "${DATA_DIR:?}"
  write_configs "$port" "$cport"
  : >"$BROKER_LOG"
  : >"$READY_LOG"

  cluster_id=$(random_cluster_id)
  # kafka.tools.StorageTool is still the Scala class in kafka_2.13 (4.x).
  if ! "${TOOL[@]}" kafka.tools.StorageTool format --config "$SERVER_PROPS" \
    --cluster-id "$cluster_id" >>"$BROKER_LOG" 2>&1 9>&-; then
    tail_broker_log
    die "formatting storage failed"
  fi

  launch "$SERVER_PROPS" "$BROKER_LOG" "$PID_FILE" "${HEAP_OPTS[@]}"
  pid=$(<"$PID_FILE")
  # Do not leave a half-started broker behind if we are interrupted.
  trap 'terminate '"$pid"'; rm -f "$PID_FILE"; exit 130' INT TERM

  rc=0
  wait_ready "$pid" "$port" "$bootstrap" || rc=$?
  if ((rc != 0)); then
    trap - INT TERM
    if ((rc == 2)); then
      rm -f "$PID_FILE"
      tail_broker_log
      die "broker process exited during startup (see $BROKER_LOG)"
    fi
    # Show the logs as they were when we gave up, before shutdown noise.
    log "last lines of $READY_LOG:"
    tail -n 15 "$READY_LOG" >&2 || true
    tail_broker_log
    terminate "$pid"
    rm -f "$PID_FILE"
    die "broker not ready after ${START_TIMEOUT}s (see $BROKER_LOG)"
  fi
  trap - INT TERM

  printf '%s\n' "$bootstrap" >"$BOOTSTRAP_FILE"
  log "Kafka $KAFKA_VERSION ready at $bootstrap (pid $pid, state $STATE_DIR) in $((($(date +%s%N) - t0) / 1000000)) ms"
  printf '%s\n' "$bootstrap"
}

cmd_stop() {
  set_state_dir "${1:-}"
  [[ -d $STATE_DIR ]] || { log "not running"; return 0; }
  lock_state_dir
  local pid
  if pid=$(running_pid); then
    log "stopping broker (pid $pid)"
    terminate "$pid"
  else
    log "not running"
  fi
  rm -f "$PID_FILE" "$BOOTSTRAP_FILE"
}

cmd_status() {
  set_state_dir "${1:-}"
  if running_pid >/dev/null; then
    echo running
  else
    echo stopped
    return 3
  fi
}

cmd_bootstrap() {
  set_state_dir "${1:-}"
  if ! running_pid >/dev/null || [[ ! -s $BOOTSTRAP_FILE ]]; then
    die "broker in $STATE_DIR is not running"
  fi
  cat "$BOOTSTRAP_FILE"
}

# SIGKILL, as a crash would: no controlled shutdown, no flush.
cmd_kill() {
  set_state_dir "${1:-}"
  local pid
  pid=$(running_pid) || die "broker in $STATE_DIR is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  log "killed broker (pid $pid) with SIGKILL; 'resume' restarts it on the same data and port"
}

# Restarts a killed or stopped broker on its data dir, ports and cluster id.
cmd_resume() {
  set_state_dir "${1:-}"
  [[ -s $SERVER_PROPS ]] || die "no broker was ever started in $STATE_DIR"
  lock_state_dir
  local pid port bootstrap rc=0
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    return 0
  fi
  DEADLINE=$(($(date +%s) + START_TIMEOUT))
  CLASSPATH_VALUE=$(<"$CP_FILE")
  tool_cmd
  port=$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$SERVER_PROPS")
  bootstrap="127.0.0.1:$port"
  launch "$SERVER_PROPS" "$BROKER_LOG" "$PID_FILE" "${HEAP_OPTS[@]}"
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$port" "$bootstrap" || rc=$?
  ((rc == 0)) || { tail_broker_log; die "resumed broker not ready (rc $rc)"; }
  printf '%s\n' "$bootstrap" >"$BOOTSTRAP_FILE"
  log "broker resumed at $bootstrap (pid $pid)"
}

# --- cluster mode ------------------------------------------------------------

CLUSTER_NODES=3
read -r -a CLUSTER_HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xmx384m -Xms128m}"

set_cluster_dir() {
  local dir=${1:-${KAFKA_CLUSTER_STATE_DIR:-$REPO_ROOT/target/kafka-cluster}}
  if [[ ${2:-} == create ]]; then mkdir -p -- "$dir"; fi
  [[ -d $dir ]] && dir=$(cd -- "$dir" && pwd -P)
  # The shared helpers (classpath, log4j, probe) read these.
  STATE_DIR=$dir
  CP_FILE="$dir/classpath"
  CP_KEY_FILE="$dir/classpath.key"
  BROKER_LOG4J="$dir/log4j2-broker.properties"
  TOOLS_LOG4J="$dir/log4j2-tools.properties"
  PROBE_PROPS="$dir/probe.properties"
  READY_LOG="$dir/ready-check.log"
  BOOTSTRAP_FILE="$dir/bootstrap"
}

# Per-node paths for node $1.
node_paths() {
  NODE_DIR="$STATE_DIR/node-$1"
  SERVER_PROPS="$NODE_DIR/server.properties"
  BROKER_LOG="$NODE_DIR/broker.log"
  PID_FILE="$NODE_DIR/broker.pid"
}

node_port() { sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$STATE_DIR/node-$1/server.properties"; }

write_node_config() {
  local id=$1 port=$2 cport=$3 voters=$4
  mkdir -p "$NODE_DIR"
  cat >"$SERVER_PROPS" <<EOC
# Generated by scripts/kafka-broker.sh cluster start.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$NODE_DIR/data

num.partitions=$NUM_PARTITIONS
# Every topic survives one node down and acknowledges acks=all only once
# two replicas have it.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# A killed leader is noticed within seconds, not the default 18-45 s.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
replica.lag.time.max.ms=5000
# An unclean leader would lose acknowledged writes.
unclean.leader.election.enable=false

message.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.max.bytes=$MAX_MESSAGE_BYTES
socket.request.max.bytes=104857600
EOC
}

cluster_bootstrap_list() {
  local n list=
  for ((n = 1; n <= CLUSTER_NODES; n++)); do list+="${list:+,}127.0.0.1:$(node_port "$n")"; done
  printf '%s\n' "$list"
}

cluster_node_pid() { node_paths "$1"; running_pid; }

cmd_cluster_start() {
  set_cluster_dir "${1:-}" create
  lock_state_dir
  local n pid
  if [[ -s $BOOTSTRAP_FILE ]]; then
    local up=0
    for ((n = 1; n <= CLUSTER_NODES; n++)); do cluster_node_pid "$n" >/dev/null && up=$((up + 1)); done
    if ((up == CLUSTER_NODES)); then
      log "cluster already running"
      cat "$BOOTSTRAP_FILE"
      return 0
    fi
  fi
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if pid=$(cluster_node_pid "$n"); then terminate "$pid"; fi
  done
  rm -f "$BOOTSTRAP_FILE"
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME)"
  local t0 used= port cport voters= cluster_id
  t0=$(date +%s%N)
  DEADLINE=$(($(date +%s) + START_TIMEOUT * 2))
  resolve_classpath
  tool_cmd
  local -a ports cports
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    port=$(free_port); while [[ " $used " == *" $port "* ]]; do port=$(free_port); done; used+=" $port"
    cport=$(free_port); while [[ " $used " == *" $cport "* ]]; do cport=$(free_port); done; used+=" $cport"
    ports[n]=$port cports[n]=$cport
    voters+="${voters:+,}$n@127.0.0.1:$cport"
  done
  cluster_id=$(random_cluster_id)
  write_configs_shared
  : >"$READY_LOG"
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    node_paths "$n"
    rm -rf -- "${NODE_DIR:?}"
    write_node_config "$n" "${ports[n]}" "${cports[n]}" "$voters"
    : >"$BROKER_LOG"
    "${TOOL[@]}" kafka.tools.StorageTool format --config "$SERVER_PROPS" \
      --cluster-id "$cluster_id" >>"$BROKER_LOG" 2>&1 9>&- || { tail_broker_log; die "formatting node $n failed"; }
  done
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    node_paths "$n"
    launch "$SERVER_PROPS" "$BROKER_LOG" "$PID_FILE" "${CLUSTER_HEAP_OPTS[@]}"
  done
  local bootstrap
  bootstrap=$(cluster_bootstrap_list)
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    node_paths "$n"
    pid=$(<"$PID_FILE")
    until (exec 3<>"/dev/tcp/127.0.0.1/${ports[n]}") 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || { tail_broker_log; die "node $n exited during startup"; }
      (($(remaining) > 0)) || { tail_broker_log; die "node $n not listening in time"; }
      sleep 0.2
    done
  done
  # The probe's topic needs all three replicas: every node is then serving.
  until probe_ready "$bootstrap"; do
    (($(remaining) > 0)) || { tail -n 15 "$READY_LOG" >&2; die "cluster not ready in time (logs: $STATE_DIR/node-*/broker.log)"; }
    sleep 1
  done
  printf '%s\n' "$bootstrap" >"$BOOTSTRAP_FILE"
  log "3-node Kafka $KAFKA_VERSION cluster ready at $bootstrap (state $STATE_DIR) in $((($(date +%s%N) - t0) / 1000000)) ms"
  printf '%s\n' "$bootstrap"
}

# The files every node shares (log4j, probe settings).
write_configs_shared() {
  local saved=${SERVER_PROPS:-}
  SERVER_PROPS=/dev/null DATA_DIR=/dev/null
  write_configs 0 0
  SERVER_PROPS=$saved
}

cmd_cluster_stop() {
  set_cluster_dir "${1:-}"
  [[ -d $STATE_DIR ]] || { log "not running"; return 0; }
  lock_state_dir
  local n pid
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if pid=$(cluster_node_pid "$n"); then
      # SIGKILL: the cluster is thrown away anyway, and a controlled shutdown
      # of the last voters can wait for a quorum that is already gone.
      kill -KILL "$pid" 2>/dev/null || true
      log "stopped node $n (pid $pid)"
    fi
  done
  rm -f "$BOOTSTRAP_FILE"
}

cmd_cluster_status() {
  set_cluster_dir "${1:-}"
  local n pid up=0
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if [[ -s $STATE_DIR/node-$n/server.properties ]] && pid=$(cluster_node_pid "$n"); then
      echo "node $n running pid $pid port $(node_port "$n")"; up=$((up + 1))
    else
      echo "node $n stopped"
    fi
  done
  ((up > 0)) || return 3
}

cmd_cluster_bootstrap() {
  set_cluster_dir "${1:-}"
  [[ -s $BOOTSTRAP_FILE ]] || die "cluster in $STATE_DIR is not running"
  cat "$BOOTSTRAP_FILE"
}

cmd_cluster_kill() {
  local n=${1:-}
  [[ $n =~ ^[1-3]$ ]] || die "cluster kill: node 1..3"
  set_cluster_dir "${2:-}"
  local pid
  pid=$(cluster_node_pid "$n") || die "node $n is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  log "killed node $n (pid $pid) with SIGKILL"
}

cmd_cluster_resume() {
  local n=${1:-} pid port
  [[ $n =~ ^[1-3]$ ]] || die "cluster resume: node 1..3"
  set_cluster_dir "${2:-}"
  node_paths "$n"
  [[ -s $SERVER_PROPS ]] || die "node $n was never started in $STATE_DIR"
  if pid=$(running_pid); then log "node $n already running (pid $pid)"; return 0; fi
  CLASSPATH_VALUE=$(<"$CP_FILE")
  launch "$SERVER_PROPS" "$BROKER_LOG" "$PID_FILE" "${CLUSTER_HEAP_OPTS[@]}"
  pid=$(<"$PID_FILE")
  port=$(node_port "$n")
  DEADLINE=$(($(date +%s) + START_TIMEOUT))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail_broker_log; die "node $n exited while resuming"; }
    (($(remaining) > 0)) || die "node $n not listening in time"
    sleep 0.2
  done
  log "node $n resumed (pid $pid, port $port)"
}

cmd_cluster() {
  (($# > 0)) || usage
  local sub=$1
  shift
  case $sub in
    start) cmd_cluster_start "$@" ;;
    stop) cmd_cluster_stop "$@" ;;
    status) cmd_cluster_status "$@" ;;
    bootstrap) cmd_cluster_bootstrap "$@" ;;
    kill) cmd_cluster_kill "$@" ;;
    resume) cmd_cluster_resume "$@" ;;
    *) log "unknown cluster command: $sub"; usage ;;
  esac
}

cmd_tool() {
  (($# > 0)) || usage
  set_state_dir "" create
  # Reuse whatever version the broker was started with unless one is asked for.
  if [[ -z ${KAFKA_VERSION_SET:-} && -s $CP_FILE ]] && classpath_complete; then
    CLASSPATH_VALUE=$(<"$CP_FILE")
  else
    resolve_classpath
  fi
  tool_cmd
  [[ -f $TOOLS_LOG4J ]] || write_tools_log4j
  exec "${TOOL[@]}" "$@"
}

main() {
  (($# > 0)) || usage
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    bootstrap) cmd_bootstrap "$@" ;;
    kill) cmd_kill "$@" ;;
    resume) cmd_resume "$@" ;;
    cluster) cmd_cluster "$@" ;;
    tool) cmd_tool "$@" ;;
    -h | --help | help) usage 0 ;;
    *) log "unknown command: $cmd"; usage ;;
  esac
}

main "$@"
