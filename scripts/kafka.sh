#!/usr/bin/env bash
# Local Apache Kafka (KRaft) on loopback, obtained from Maven Central with Maven.
#
#   scripts/kafka.sh fetch                      download the broker and tools (cached)
#   scripts/kafka.sh fetch-dir                  the same, then print the folder holding libs/
#   scripts/kafka.sh up [--brokers 1|3] [--separate-controller]
#                                               format storage, start, wait for metadata; with
#                                               --separate-controller the KRaft controller runs in
#                                               a process of its own that survives a broker's kill
#   scripts/kafka.sh down                       stop every broker of the state dir
#   scripts/kafka.sh status                     print bootstrap servers of running brokers
#   scripts/kafka.sh stop-broker N | kill-broker N | start-broker N | pause-broker N | resume-broker N
#   scripts/kafka.sh logs                       print the tail of every broker log
#   scripts/kafka.sh diagnose                   process, listening sockets and log tail of each broker
#   scripts/kafka.sh tool CLASS ARGS...         run a Kafka command-line tool class
#
# Settings (environment):
#   KAFKA_VERSION     Apache Kafka version (default 4.3.1)
#   KAFKA_STATE_DIR   data, logs and pid files (default <repo>/.cache/kafka)
#   KAFKA_PORT        first client port (default 9092; broker N listens on PORT+N-1)
#   KAFKA_CACHE_DIR   where the jars are cached (default ~/.cache/orderflow)
#   KAFKA_HEAP        JVM heap per broker (default 512m)
#   KAFKA_EXTRA_CONFIG  extra server.properties lines, separated by ';'
#   KAFKA_SASL_SSL    1: each broker also listens with SASL_SSL (SCRAM-SHA-256) on
#                     PORT+200 (certificate for 127.0.0.1 and localhost) and on PORT+300
#                     (certificate for another host name, to test host-name checks);
#                     CA and certificates in <state>/tls, user "orderflow", password
#                     from KAFKA_SCRAM_PASSWORD (default orderflow-secret)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${KAFKA_VERSION:-4.3.1}
cache=${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow}
dist="$cache/kafka-$version"
state=${KAFKA_STATE_DIR:-$repo/.cache/kafka}
port=${KAFKA_PORT:-9092}
heap=${KAFKA_HEAP:-1g}

secure=${KAFKA_SASL_SSL:-}
scram_password=${KAFKA_SCRAM_PASSWORD:-orderflow-secret}
log() { printf 'kafka: %s\n' "$*" >&2; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

fetch() {
  if [ -f "$dist/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to download Apache Kafka; install Maven and Java 17+"
  command -v java >/dev/null || die "Java 17+ is required to run Apache Kafka"
  log "downloading Apache Kafka $version (org.apache.kafka:kafka_2.13 and kafka-tools) from Maven Central"
  local build
  build=$(mktemp -d)
  # The broker and its tools are ordinary Maven artifacts; a throwaway POM resolves them
  # with their runtime dependencies into one lib folder, plus a log4j2 binding for slf4j.
  cat >"$build/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.orderflow</groupId><artifactId>kafka-dist</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.4</version></dependency>
  </dependencies>
</project>
EOF
  # A folder of this run's own: two runs fetching at once (two test suites starting
  # together) must not write into each other's. The first to finish renames its folder
  # into place; the other finds it there and drops its own.
  mkdir -p "$(dirname "$dist")"
  local fetched
  fetched=$(mktemp -d "$dist.tmp.XXXXXX")
  # Maven writes terminal reset codes to standard output even with -q and no colour;
  # this script's standard output is the bootstrap address its callers read, so
  # everything Maven says goes to standard error.
  (cd "$build" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$fetched/libs") >&2 || { rm -rf "$fetched"; die "Maven could not resolve Apache Kafka $version"; }
  rm -rf "$build"
  touch "$fetched/.complete"
  # What an interrupted fetch of an earlier version of this script left.
  if [ -d "$dist" ] && [ ! -f "$dist/.complete" ]; then rm -rf "$dist"; fi
  mv -T "$fetched" "$dist" 2>/dev/null || rm -rf "$fetched"
  [ -f "$dist/.complete" ] || die "could not put Apache Kafka $version in $dist"
  log "cached in $dist ($(ls "$dist/libs" | wc -l) jars)"
}

tool() {
  fetch
  mkdir -p "$state"
  write_tool_log_config
  java -Xmx256m -Dlog4j2.configurationFile="$state/tools-log4j2.properties" -cp "$dist/libs/*" "$@"
}

write_tool_log_config() {
  cat >"$state/tools-log4j2.properties" <<'EOF'
rootLogger.level=WARN
rootLogger.appenderRef.e.ref=E
appender.e.type=Console
appender.e.name=E
appender.e.target=SYSTEM_ERR
appender.e.layout.type=PatternLayout
appender.e.layout.pattern=%p %m%n
EOF
}

brokers_in_state() { cat "$state/brokers" 2>/dev/null || echo 0; }
separate() { [ -f "$state/separate-controller" ]; }
# The node id of the separate controller (brokers are 1..n).
CONTROLLER_ID=1000
client_port() { echo $((port + $1 - 1)); }
secure_port() { echo $((port + 200 + $1 - 1)); }
mismatch_port() { echo $((port + 300 + $1 - 1)); }
controller_port() { echo $((port + 100 + $1 - 1)); }
pid_of() {
  if [ "$1" = controller ]; then cat "$state/controller/pid" 2>/dev/null || true
  else cat "$state/broker-$1/pid" 2>/dev/null || true; fi
}
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

bootstrap() {
  local n=$1 i out=""
  for i in $(seq 1 "$n"); do out="${out:+$out,}127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}

write_config() {
  local n=$1 i=$2 dir="$state/broker-$2" voters="" j rf isr roles listeners
  for j in $(seq 1 "$n"); do voters="${voters:+$voters,}$j@127.0.0.1:$(controller_port "$j")"; done
  roles=broker,controller
  listeners="PLAINTEXT://127.0.0.1:$(client_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")"
  if separate; then
    roles=broker
    voters="$CONTROLLER_ID@127.0.0.1:$(controller_port 1)"
    listeners="PLAINTEXT://127.0.0.1:$(client_port "$i")"
  fi
  rf=$([ "$n" -ge 3 ] && echo 3 || echo 1)
  isr=$([ "$n" -ge 3 ] && echo 2 || echo 1)
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=$roles
node.id=$i
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
log.dirs=$dir/data
# Development settings: no join delay, no implicit topics, internal topics sized for the cluster.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=12
min.insync.replicas=1
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
EOF
  if [ -n "$secure" ]; then
    local tls="$state/tls" jaas="org.apache.kafka.common.security.scram.ScramLoginModule required;"
    sed -i "s#^listeners=.*#&,SASL_SSL://127.0.0.1:$(secure_port "$i"),MISMATCH://127.0.0.1:$(mismatch_port "$i")#; s#^advertised.listeners=.*#&,SASL_SSL://127.0.0.1:$(secure_port "$i"),MISMATCH://127.0.0.1:$(mismatch_port "$i")#; s#^listener.security.protocol.map=.*#&,MISMATCH:SASL_SSL#" "$dir/server.properties"
    cat >>"$dir/server.properties" <<EOC
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas
listener.name.mismatch.scram-sha-256.sasl.jaas.config=$jaas
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$tls/server.pem
listener.name.mismatch.ssl.keystore.type=PEM
listener.name.mismatch.ssl.keystore.location=$tls/mismatch.pem
EOC
  fi
  if [ -n "${KAFKA_EXTRA_CONFIG:-}" ]; then
    tr ';' '\n' <<<"$KAFKA_EXTRA_CONFIG" >>"$dir/server.properties"
  fi
}

# The separate KRaft controller: the brokers' registrations and the metadata log live
# on when a broker is killed, as in a production cluster with dedicated controllers.
write_controller_config() {
  local dir="$state/controller"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOC
process.roles=controller
node.id=$CONTROLLER_ID
controller.quorum.voters=$CONTROLLER_ID@127.0.0.1:$(controller_port 1)
listeners=CONTROLLER://127.0.0.1:$(controller_port 1)
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT
log.dirs=$dir/data
EOC
}

# A test CA, a broker certificate for 127.0.0.1/localhost, one for another host name,
# and an unrelated CA (for clients that must refuse the broker).
write_certificates() {
  local tls="$state/tls"
  mkdir -p "$tls"
  command -v openssl >/dev/null || die "openssl is needed for KAFKA_SASL_SSL"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3 -subj "/CN=orderflow test CA" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 3 -subj "/CN=unrelated CA" 2>/dev/null
    for name in server mismatch; do
      san="IP:127.0.0.1,DNS:localhost"
      [ "$name" = mismatch ] && san="DNS:kafka.elsewhere.example"
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
      printf 'subjectAltName=%s\n' "$san" >"$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
      openssl pkcs8 -topk8 -nocrypt -in "$name.key" -out "$name.pk8"
      cat "$name.pk8" "$name.crt" ca.crt >"$name.pem"
    done
  )
}

write_log_config() {
  cat >"$state/log4j2.properties" <<'EOF'
rootLogger.level=INFO
rootLogger.appenderRef.f.ref=F
appender.f.type=RollingFile
appender.f.name=F
appender.f.fileName=${sys:kafka.logs.dir}/server.log
appender.f.filePattern=${sys:kafka.logs.dir}/server.log.%i
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
appender.f.policies.type=Policies
appender.f.policies.size.type=SizeBasedTriggeringPolicy
appender.f.policies.size.size=50MB
appender.f.strategy.type=DefaultRolloverStrategy
appender.f.strategy.max=2
logger.state.name=state.change.logger
logger.state.level=WARN
logger.request.name=kafka.request.logger
logger.request.level=WARN
EOF
}

launch() {
  local i=$1 dir="$state/broker-$1"
  [ "$i" != controller ] || dir="$state/controller"
  if alive "$i"; then log "broker $i already running"; return 0; fi
  [ -f "$dir/server.properties" ] || die "broker $i is not configured; run 'up' first"
  # The JVM's pauses (garbage collection, safepoints) go to gc.log beside server.log: a
  # broker that stops answering on a loaded machine is told apart from one that is slow.
  nohup setsid java -Xms128m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Xlog:gc,safepoint:file="$dir/gc.log":time,uptime:filecount=2,filesize=20m \
    -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$dist/libs/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

wait_ready() {
  local n=$1 deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90})) i
  for i in $(seq 1 "$n"); do
    until (exec 3<>"/dev/tcp/127.0.0.1/$(client_port "$i")") 2>/dev/null; do
      alive "$i" || { tail -n 40 "$state/broker-$i/server.log" "$state/broker-$i/stdout.log" >&2 || true; die "broker $i exited during start"; }
      [ "$SECONDS" -lt "$deadline" ] || die "broker $i did not open its port within the start timeout"
      sleep 0.3
    done
  done
  # The port opens before the broker has registered; ask for the cluster id through the
  # Admin API until metadata is served by every broker.
  local out=""
  until out=$(tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$(bootstrap "$n")" 2>&1) &&
        [ "$(grep -c '^127.0.0.1:.*(id: ' <<<"$out")" -ge "$n" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "metadata not served within the start timeout: $(tail -n 3 <<<"$out")"
    sleep 0.5
  done
}

up() {
  local n=1 split=""
  while [ $# -gt 0 ]; do
    case $1 in
      --brokers) n=$2; shift 2 ;;
      --separate-controller) split=1; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ "$n" = 1 ] || [ "$n" = 3 ] || die "--brokers must be 1 or 3"
  fetch
  if [ "$(brokers_in_state)" != 0 ] && alive 1; then
    log "already running: $(bootstrap "$(brokers_in_state)")"
    bootstrap "$(brokers_in_state)"
    return 0
  fi
  rm -rf "$state"
  mkdir -p "$state"
  echo "$n" >"$state/brokers"
  [ -z "$split" ] || touch "$state/separate-controller"
  write_log_config
  write_tool_log_config
  local cluster_id i scram=()
  [ -z "$secure" ] || { write_certificates; scram=(--add-scram "SCRAM-SHA-256=[name=orderflow,password=\"$scram_password\"]"); }
  cluster_id=$(java -cp "$dist/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  for i in $(seq 1 "$n"); do
    write_config "$n" "$i"
    java -Xmx256m -Dlog4j2.configurationFile="$state/tools-log4j2.properties" -cp "$dist/libs/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$state/broker-$i/server.properties" "${scram[@]}" \
      >"$state/broker-$i/format.log" 2>&1 || { cat "$state/broker-$i/format.log" >&2; die "formatting storage failed"; }
  done
  if separate; then
    write_controller_config
    java -Xmx256m -Dlog4j2.configurationFile="$state/tools-log4j2.properties" -cp "$dist/libs/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$state/controller/server.properties" "${scram[@]}" \
      >"$state/controller/format.log" 2>&1 || { cat "$state/controller/format.log" >&2; die "formatting the controller's storage failed"; }
    launch controller
  fi
  for i in $(seq 1 "$n"); do launch "$i"; done
  wait_ready "$n"
  log "Apache Kafka $version ($n broker(s), KRaft) ready at $(bootstrap "$n"); logs in $state/broker-*/server.log"
  bootstrap "$n"
}

stop_one() {
  local i=$1 sig=${2:-TERM} p
  p=$(pid_of "$i")
  [ -n "$p" ] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -"$sig" "$p" 2>/dev/null || true
    local deadline=$((SECONDS + 40))
    while kill -0 "$p" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then log "broker $i did not stop in time; killing"; kill -KILL "$p" 2>/dev/null || true; fi
      sleep 0.2
    done
  fi
  if [ "$i" = controller ]; then rm -f "$state/controller/pid"; else rm -f "$state/broker-$i/pid"; fi
}

down() {
  local n i
  n=$(brokers_in_state)
  [ "$n" != 0 ] || { log "nothing running in $state"; return 0; }
  # Stop the brokers together: a KRaft quorum that loses its majority cannot finish a
  # controlled shutdown, so sequential stops of a 3-node cluster would each wait it out.
  for i in $(seq 1 "$n"); do stop_one "$i" TERM & done
  wait
  # The controller last: brokers finish their controlled shutdown through it.
  if separate; then stop_one controller TERM; fi
  log "stopped $n broker(s)"
}

status() {
  local n i up=0
  n=$(brokers_in_state)
  for i in $(seq 1 "$n"); do alive "$i" && up=$((up + 1)); done
  [ "$up" -gt 0 ] || { log "not running"; return 1; }
  bootstrap "$n"
}

# What an operator looks at when clients cannot use a broker that seems up: the
# process, the sockets it listens on, and the end of its log.
# With a separate controller, a killed broker is started again only once the controller
# has fenced its old registration, as a supervisor restarts a crashed broker after the
# crash is noticed. Restarted sooner, the broker serves for a moment under its stale
# registration, is fenced, and its partitions have no leader; Kafka's transaction
# coordinator takes partitions without a leader for deleted and drops the markers of a
# commit it was completing, which loses a committed transaction's outputs on topics of
# replication factor 1.
wait_fenced() {
  local i=$1 since deadline
  separate || return 0
  since=$(cat "$state/broker-$i/killed-at" 2>/dev/null) || return 0
  deadline=$((SECONDS + 60))
  until grep -a "Fencing broker $i at epoch" "$state/controller/server.log" 2>/dev/null |
        awk -v since="[$since]" '{ if ($1 " " $2 >= since) found = 1 } END { exit !found }'; do
    [ "$SECONDS" -lt "$deadline" ] || die "the controller did not fence broker $i within 60 s of its kill"
    sleep 0.2
  done
  rm -f "$state/broker-$i/killed-at"
}

diagnose() {
  local n i p
  n=$(brokers_in_state)
  for i in $(seq 1 "$n"); do
    p=$(pid_of "$i")
    echo "==== broker $i (pid ${p:-none}), configured listeners: $(grep '^listeners=' "$state/broker-$i/server.properties" 2>/dev/null | cut -d= -f2-)"
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      ps -o pid=,stat=,etime=,rss=,pcpu= -p "$p" | awk '{printf "process: pid %s, state %s, up %s, rss %d MiB, cpu %s%%\n", $1, $2, $3, $4/1024, $5}'
      if command -v ss >/dev/null; then
        echo "listening sockets of the process:"
        ss -ltnpH 2>/dev/null | grep "pid=$p," || echo "  none"
      fi
    else
      echo "process: not running"
    fi
    echo "---- end of $state/broker-$i/server.log"
    tail -n "${KAFKA_LOG_LINES:-40}" "$state/broker-$i/server.log" 2>/dev/null || true
  done
}

logs() {
  local n i
  n=$(brokers_in_state)
  for i in $(seq 1 "$n"); do
    echo "==== broker $i: $state/broker-$i/server.log (last ${KAFKA_LOG_LINES:-200} lines)"
    tail -n "${KAFKA_LOG_LINES:-200}" "$state/broker-$i/server.log" 2>/dev/null || true
  done
}

cmd=${1:-}
shift || true
case $cmd in
  fetch) fetch ;;
  fetch-dir) fetch; echo "$dist" ;;
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  logs) logs ;;
  diagnose) diagnose ;;
  bootstrap) bootstrap "$(brokers_in_state)" ;;
  stop-broker) stop_one "$1" TERM ;;
  kill-broker)
    date '+%Y-%m-%d %H:%M:%S,%3N' >"$state/broker-$1/killed-at"
    stop_one "$1" KILL ;;
  start-broker)
    wait_fenced "$1"
    launch "$1"
    deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
    until (exec 3<>"/dev/tcp/127.0.0.1/$(client_port "$1")") 2>/dev/null; do
      alive "$1" || die "broker $1 exited during start"
      [ "$SECONDS" -lt "$deadline" ] || die "broker $1 did not open its port in time"
      sleep 0.3
    done ;;
  pause-broker) kill -STOP "$(pid_of "$1")" ;;
  resume-broker) kill -CONT "$(pid_of "$1")" ;;
  tool) tool "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
