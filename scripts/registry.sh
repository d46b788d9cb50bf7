#!/usr/bin/env bash
# Local Confluent-compatible schema registry on loopback: Apicurio Registry with in-memory
# (H2) storage, built from Maven Central artifacts with Maven. Nothing is kept across restarts.
#
#   scripts/registry.sh fetch     download and package the registry (cached)
#   scripts/registry.sh up        start in the background, wait until ready, print the base URL
#                                 of the Confluent-compatible API (last line of stdout)
#   scripts/registry.sh down      stop the registry (TERM, then KILL after a timeout)
#   scripts/registry.sh status    print the base URL if the registry is running
#   scripts/registry.sh logs      print the tail of the registry log
#
# Settings (environment):
#   REGISTRY_STATE_DIR      pid file and log (default <repo>/.cache/registry)
#   REGISTRY_PORT           HTTP port on 127.0.0.1 (default 8081)
#   REGISTRY_CACHE_DIR      where the packaged registry is cached (default ~/.cache/orderflow)
#   REGISTRY_HEAP           JVM heap (default 384m)
#   REGISTRY_API            Confluent API version served: v7 or v6 (default v7)
#   REGISTRY_START_TIMEOUT  seconds to wait for readiness (default 90)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Apicurio Registry 2.4.2.Final is the newest release whose dependencies all resolve from Maven
# Central and that runs on Java 17 (3.x needs Java 21; 2.5/2.6 modules are missing from Central).
version=2.4.2.Final
quarkus_version=2.16.4.Final
components_version=0.1.18.Final
cache=${REGISTRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow}
dist="$cache/apicurio-registry-$version"
state=${REGISTRY_STATE_DIR:-$repo/.cache/registry}
port=${REGISTRY_PORT:-8081}
heap=${REGISTRY_HEAP:-384m}
api=${REGISTRY_API:-v7}

log() { printf 'registry: %s\n' "$*" >&2; }
die() { printf 'registry: error: %s\n' "$*" >&2; exit 1; }

# The registry is published as a thin jar (io.apicurio:apicurio-registry-app) that still needs
# Quarkus' build step. A throwaway Maven project runs it, with three fixes for what Central lacks:
#  - org.everit.json.schema comes from jitpack upstream; com.github.erosb:everit-json-schema is the
#    same library (same packages) on Central;
#  - the deployment half of the apicurio-common-app-components-config-index Quarkus extension is
#    not on Central; a two-module replacement extension (one build step that indexes the
#    @Dynamic config properties into a DynamicConfigPropertyList bean) is built alongside;
#  - the app jar has no bean index, so Quarkus is told to index it.
write_build() {
  local b=$1
  mkdir -p "$b/ext/src/main/java/local/orderflow/configindex" "$b/ext/src/main/resources/META-INF" \
    "$b/ext-deployment/src/main/java/local/orderflow/configindex/deployment" \
    "$b/ext-deployment/src/main/resources/META-INF" "$b/app/src/main/resources"
  cat >"$b/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.orderflow</groupId><artifactId>registry-build</artifactId><version>1</version>
  <packaging>pom</packaging>
  <modules><module>ext</module><module>ext-deployment</module><module>app</module></modules>
  <properties>
    <maven.compiler.source>11</maven.compiler.source><maven.compiler.target>11</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry</artifactId><version>$version</version><type>pom</type><scope>import</scope></dependency>
      <dependency><groupId>io.quarkus</groupId><artifactId>quarkus-bom</artifactId><version>$quarkus_version</version><type>pom</type><scope>import</scope></dependency>
    </dependencies>
  </dependencyManagement>
</project>
EOF
  cat >"$b/ext/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>local.orderflow</groupId><artifactId>registry-build</artifactId><version>1</version></parent>
  <artifactId>registry-config-index</artifactId>
  <dependencies>
    <dependency><groupId>io.quarkus</groupId><artifactId>quarkus-arc</artifactId></dependency>
    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-common-app-components-config-definitions</artifactId><version>$components_version</version></dependency>
  </dependencies>
</project>
EOF
  cat >"$b/ext-deployment/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>local.orderflow</groupId><artifactId>registry-build</artifactId><version>1</version></parent>
  <artifactId>registry-config-index-deployment</artifactId>
  <dependencies>
    <dependency><groupId>local.orderflow</groupId><artifactId>registry-config-index</artifactId><version>1</version></dependency>
    <dependency><groupId>io.quarkus</groupId><artifactId>quarkus-arc-deployment</artifactId></dependency>
  </dependencies>
</project>
EOF
  cat >"$b/app/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>local.orderflow</groupId><artifactId>registry-build</artifactId><version>1</version></parent>
  <artifactId>registry</artifactId>
  <dependencies>
    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId><version>$version</version>
      <exclusions>
        <exclusion><groupId>com.github.everit-org.json-schema</groupId><artifactId>org.everit.json.schema</artifactId></exclusion>
        <exclusion><groupId>io.apicurio</groupId><artifactId>apicurio-common-app-components-config-index</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>com.github.erosb</groupId><artifactId>everit-json-schema</artifactId><version>1.14.4</version></dependency>
    <dependency><groupId>local.orderflow</groupId><artifactId>registry-config-index</artifactId><version>1</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>io.quarkus</groupId><artifactId>quarkus-maven-plugin</artifactId><version>$quarkus_version</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  echo 'deployment-artifact=local.orderflow\:registry-config-index-deployment\:1' \
    >"$b/ext/src/main/resources/META-INF/quarkus-extension.properties"
  echo 'local.orderflow.configindex.deployment.ConfigIndexSteps' \
    >"$b/ext-deployment/src/main/resources/META-INF/quarkus-build-steps.list"
  cat >"$b/ext/src/main/java/local/orderflow/configindex/PropertyListRecorder.java" <<'EOF'
package local.orderflow.configindex;

import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.runtime.annotations.Recorder;
import java.util.List;

@Recorder
public class PropertyListRecorder {
    public RuntimeValue<DynamicConfigPropertyList> create(List<DynamicConfigPropertyDef> defs) {
        return new RuntimeValue<>(new DynamicConfigPropertyList(defs));
    }
}
EOF
  cat >"$b/ext-deployment/src/main/java/local/orderflow/configindex/deployment/ConfigIndexSteps.java" <<'EOF'
package local.orderflow.configindex.deployment;

import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanDiscoveryFinishedBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.InjectionPointInfo;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import java.util.ArrayList;
import java.util.List;
import local.orderflow.configindex.PropertyListRecorder;
import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;

/** Indexes the fields annotated with @ConfigProperty and @Dynamic into a DynamicConfigPropertyList bean. */
public class ConfigIndexSteps {
    static final DotName CONFIG_PROPERTY = DotName.createSimple("org.eclipse.microprofile.config.inject.ConfigProperty");
    static final DotName DYNAMIC = DotName.createSimple("io.apicurio.common.apps.config.Dynamic");

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void dynamicProperties(PropertyListRecorder recorder, BeanDiscoveryFinishedBuildItem discovery,
            BuildProducer<SyntheticBeanBuildItem> beans) throws ClassNotFoundException {
        List<DynamicConfigPropertyDef> defs = new ArrayList<>();
        for (InjectionPointInfo ip : discovery.getInjectionPoints()) {
            AnnotationInstance cp = ip.getRequiredQualifier(CONFIG_PROPERTY);
            if (cp == null || !ip.isField()) continue;
            AnnotationInstance dyn = ip.getTarget().asField().annotation(DYNAMIC);
            if (dyn == null) continue;
            String name = cp.value("name").asString();
            AnnotationValue dflt = cp.value("defaultValue");
            if (dflt == null) throw new IllegalStateException("dynamic property " + name + " has no default value");
            String type = ip.getRequiredType().asParameterizedType().arguments().get(0).name().toString();
            DynamicConfigPropertyDef def = new DynamicConfigPropertyDef(name,
                    Class.forName(type, false, Thread.currentThread().getContextClassLoader()), dflt.asString());
            if (dyn.value("label") != null) def.setLabel(dyn.value("label").asString());
            if (dyn.value("description") != null) def.setDescription(dyn.value("description").asString());
            if (dyn.value("requires") != null) def.setRequires(dyn.value("requires").asStringArray());
            defs.add(def);
        }
        beans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .runtimeValue(recorder.create(defs)).unremovable().setRuntimeInit().done());
    }
}
EOF
  # The registry's own application.properties (in its jar) stays in force; these are additions.
  cat >"$b/app/src/main/resources/application.properties" <<'EOF'
quarkus.index-dependency.registry-app.group-id=io.apicurio
quarkus.index-dependency.registry-app.artifact-id=apicurio-registry-app
%prod.quarkus.package.type=fast-jar
quarkus.package.type=fast-jar
EOF
}

fetch() {
  if [ -f "$dist/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to build Apicurio Registry; install Maven and Java 17+"
  command -v java >/dev/null || die "Java 17+ is required to run Apicurio Registry"
  log "building Apicurio Registry $version (io.apicurio:apicurio-registry-app) from Maven Central"
  local build
  build=$(mktemp -d)
  write_build "$build"
  (cd "$build" && mvn -q -B -Dstyle.color=never package -DskipTests >"$build/build.log" 2>&1) ||
    { grep -E '^\[ERROR\]' "$build/build.log" | head -n 20 >&2 || true; rm -rf "$build"; die "Maven could not build Apicurio Registry $version"; }
  [ -f "$build/app/target/quarkus-app/quarkus-run.jar" ] || { rm -rf "$build"; die "the build made no quarkus-app/quarkus-run.jar"; }
  rm -rf "$dist.tmp" "$dist"
  mkdir -p "$cache"
  cp -r "$build/app/target/quarkus-app" "$dist.tmp"
  rm -rf "$build"
  mv "$dist.tmp" "$dist"
  touch "$dist/.complete"
  log "cached in $dist ($(ls "$dist/lib/main" | wc -l) jars)"
}

pid() { cat "$state/pid" 2>/dev/null || true; }
alive() { local p; p=$(pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
running_port() { cat "$state/port" 2>/dev/null || echo "$port"; }
base_url() { echo "http://127.0.0.1:$1/apis/ccompat/$api"; }

# HTTP status code of GET path on 127.0.0.1:port (empty if nothing answers); needs no curl.
http_status() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAccept: application/json\r\n\r\n' "$2" "$1" >&3
    IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
    echo "$code"
  ) 2>/dev/null || true
}

up() {
  [ $# -eq 0 ] || die "unknown option $1"
  [ "$api" = v7 ] || [ "$api" = v6 ] || die "REGISTRY_API must be v7 or v6"
  fetch
  if alive; then
    log "already running: $(base_url "$(running_port)")"
    base_url "$(running_port)"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use (set REGISTRY_PORT)"; fi
  rm -rf "$state"
  mkdir -p "$state"
  echo "$port" >"$state/port"
  local started=$SECONDS
  # Storage is the registry's default in-memory H2 database; the connection pool is shrunk from the
  # production defaults (20..100 connections) and per-request audit lines are silenced. Requests
  # run on one executor thread: on H2, concurrent registrations of new schemas deadlock on the
  # content-id sequence (two at once fail, eight at once wedge the registry for good), while
  # serialized they take a few milliseconds each.
  nohup setsid java -Xms64m -Xmx"$heap" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.datasource.jdbc.min-size=1 -Dquarkus.datasource.jdbc.initial-size=1 \
    -Dquarkus.datasource.jdbc.max-size=16 \
    -D%prod.quarkus.datasource.jdbc.min-size=1 -D%prod.quarkus.datasource.jdbc.initial-size=1 \
    -D%prod.quarkus.datasource.jdbc.max-size=16 \
    -Dquarkus.thread-pool.max-threads=1 -D%prod.quarkus.thread-pool.max-threads=1 \
    '-Dquarkus.log.category."io.apicurio.common.apps.logging.audit".level=WARN' \
    -jar "$dist/quarkus-run.jar" >"$state/registry.log" 2>&1 </dev/null &
  echo $! >"$state/pid"
  local deadline=$((SECONDS + ${REGISTRY_START_TIMEOUT:-90}))
  until [ "$(http_status "$port" "/apis/ccompat/$api/subjects")" = 200 ]; do
    alive || { tail -n 40 "$state/registry.log" >&2 || true; die "the registry exited during start"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -n 20 "$state/registry.log" >&2 || true; die "the registry was not ready within the start timeout"; }
    sleep 0.3
  done
  log "Apicurio Registry $version (in-memory) ready in $((SECONDS - started))s at $(base_url "$port"); log in $state/registry.log"
  base_url "$port"
}

down() {
  local p
  p=$(pid)
  [ -n "$p" ] || { log "nothing running in $state"; return 0; }
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    local deadline=$((SECONDS + ${REGISTRY_STOP_TIMEOUT:-30}))
    while kill -0 "$p" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then log "the registry did not stop in time; killing"; kill -KILL "$p" 2>/dev/null || true; fi
      sleep 0.2
    done
  fi
  rm -f "$state/pid"
  log "stopped"
}

status() {
  alive || { log "not running"; return 1; }
  base_url "$(running_port)"
}

logs() {
  echo "==== $state/registry.log (last ${REGISTRY_LOG_LINES:-200} lines)"
  tail -n "${REGISTRY_LOG_LINES:-200}" "$state/registry.log" 2>/dev/null || true
}

cmd=${1:-}
shift || true
case $cmd in
  fetch) fetch ;;
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  logs) logs ;;
  *) sed -n '2,19p' "$0" >&2; exit 2 ;;
esac
