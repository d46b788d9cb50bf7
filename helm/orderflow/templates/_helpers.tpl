{{/* vim: set filetype=mustache: */}}

{{/* Chart name, overridable. */}}
{{- define "orderflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix of every object: <release>-<chart> unless the release name already contains the chart name. */}}
{{- define "orderflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of a per-component object: <fullname>-<component>, at most 63 characters.
The prefix is shortened, never the component, so names stay distinct.
Call with (dict "root" $ "name" "order-validator").
*/}}
{{- define "orderflow.componentName" -}}
{{- $max := sub 62 (len .name) | int -}}
{{- printf "%s-%s" (include "orderflow.fullname" .root | trunc $max | trimSuffix "-") .name -}}
{{- end -}}

{{/* chart label value. */}}
{{- define "orderflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Common labels. Call with (dict "root" $ "component" "order-validator");
component may be empty.
*/}}
{{- define "orderflow.labels" -}}
helm.sh/chart: {{ include "orderflow.chart" .root }}
{{ include "orderflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: orderflow
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels (immutable on Deployments: keep them minimal). Same arguments as orderflow.labels. */}}
{{- define "orderflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orderflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* ServiceAccount of the worker pods. */}}
{{- define "orderflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "orderflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The orderflow image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "orderflow.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap holding rules files and shared non-secret settings. */}}
{{- define "orderflow.configMapName" -}}
{{- include "orderflow.componentName" (dict "root" . "name" "config") -}}
{{- end -}}

{{/*
Effective settings of one worker, as JSON: a deep copy of .Values.defaults
with the worker's own entry merged over it. mergeOverwrite lets the worker's
explicit 0 / false / "" win (helm-check's test asserts replicas: 0 and
enabled: false); lists are replaced, not appended. groupId defaults to the
worker name. Call with (dict "root" $ "name" "order-validator") and decode
with fromJson.
*/}}
{{- define "orderflow.worker" -}}
{{- $own := get .root.Values.workers .name | default dict -}}
{{- $w := mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $own) -}}
{{- if not $w.groupId -}}
{{- $_ := set $w "groupId" .name -}}
{{- end -}}
{{- $_ := set $w "name" .name -}}
{{- toJson $w -}}
{{- end -}}

{{/* Names of the enabled workers, sorted, as a JSON list (decode with fromJsonArray). */}}
{{- define "orderflow.enabledWorkers" -}}
{{- $names := list -}}
{{- range $name, $_ := .Values.workers -}}
{{- $w := include "orderflow.worker" (dict "root" $ "name" $name) | fromJson -}}
{{- if $w.enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson (sortAlpha $names) -}}
{{- end -}}

{{/* True ("true") when the Kafka security protocol uses SASL / TLS. */}}
{{- define "orderflow.kafka.usesSasl" -}}
{{- if has .Values.kafka.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") }}true{{ end -}}
{{- end -}}
{{- define "orderflow.kafka.usesTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Mount point of the Kafka TLS Secret. */}}
{{- define "orderflow.kafka.tlsDir" -}}/etc/orderflow/kafka-tls{{- end -}}

{{/*
ORDERFLOW_KAFKA_CONFIG: librdkafka properties "k=v;k=v" derived from
kafka.securityProtocol, kafka.sasl.mechanism, kafka.tls.* (file paths under
the read-only mount) and kafka.config (sorted by name, appended last).
No secret ever ends up here: SASL credentials travel as
ORDERFLOW_SASL_USERNAME / ORDERFLOW_SASL_PASSWORD from secretKeyRef.
*/}}
{{- define "orderflow.kafka.config" -}}
{{- $k := .Values.kafka -}}
{{- $dir := include "orderflow.kafka.tlsDir" . -}}
{{- $props := list (printf "security.protocol=%s" $k.securityProtocol) -}}
{{- if include "orderflow.kafka.usesSasl" . -}}
{{- $props = append $props (printf "sasl.mechanism=%s" $k.sasl.mechanism) -}}
{{- end -}}
{{- if and (include "orderflow.kafka.usesTls" .) $k.tls.existingSecret -}}
{{- if $k.tls.caKey -}}
{{- $props = append $props (printf "ssl.ca.location=%s/%s" $dir $k.tls.caKey) -}}
{{- end -}}
{{- if $k.tls.certKey -}}
{{- $props = append $props (printf "ssl.certificate.location=%s/%s" $dir $k.tls.certKey) -}}
{{- $props = append $props (printf "ssl.key.location=%s/%s" $dir $k.tls.keyKey) -}}
{{- end -}}
{{- end -}}
{{- range $name := keys $k.config | sortAlpha -}}
{{- $value := get $k.config $name -}}
{{- /* YAML numbers arrive as float64: print whole numbers without an exponent. */ -}}
{{- if and (kindIs "float64" $value) (eq $value (floor $value)) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- $props = append $props (printf "%s=%v" $name $value) -}}
{{- end -}}
{{- join ";" $props -}}
{{- end -}}

{{/*
Global checks: fail rendering with a clear message on inconsistent values
that the JSON schema cannot express.
*/}}
{{- define "orderflow.validateGlobal" -}}
{{- $k := .Values.kafka -}}
{{- if not (trim $k.bootstrapServers) -}}
{{- fail "kafka.bootstrapServers must not be empty" -}}
{{- end -}}
{{- if and (include "orderflow.kafka.usesSasl" .) (not $k.sasl.existingSecret) -}}
{{- fail (printf "kafka.securityProtocol is %s: set kafka.sasl.existingSecret to an existing Secret holding the SASL username and password" $k.securityProtocol) -}}
{{- end -}}
{{- if and $k.sasl.existingSecret (not (include "orderflow.kafka.usesSasl" .)) -}}
{{- fail (printf "kafka.sasl.existingSecret is set but kafka.securityProtocol is %s: use SASL_SSL or SASL_PLAINTEXT" $k.securityProtocol) -}}
{{- end -}}
{{- if and $k.tls.existingSecret (not (include "orderflow.kafka.usesTls" .)) -}}
{{- fail (printf "kafka.tls.existingSecret is set but kafka.securityProtocol is %s: use SSL or SASL_SSL" $k.securityProtocol) -}}
{{- end -}}
{{- if ne (empty $k.tls.certKey) (empty $k.tls.keyKey) -}}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey must be set together (mutual TLS) or both left empty" -}}
{{- end -}}
{{- if and $k.tls.existingSecret (not (or $k.tls.caKey $k.tls.certKey)) -}}
{{- fail "kafka.tls.existingSecret is set but neither kafka.tls.caKey nor kafka.tls.certKey names a key to mount" -}}
{{- end -}}
{{- range $name, $value := $k.config -}}
{{- if contains ";" (toString $value) -}}
{{- fail (printf "kafka.config.%s contains ';', which separates properties in ORDERFLOW_KAFKA_CONFIG" $name) -}}
{{- end -}}
{{- if has $name (list "security.protocol" "sasl.mechanism" "sasl.mechanisms" "ssl.ca.location" "ssl.certificate.location" "ssl.key.location" "bootstrap.servers" "group.id" "transactional.id") -}}
{{- fail (printf "kafka.config.%s is set by the chart: use kafka.bootstrapServers, kafka.securityProtocol, kafka.sasl.* / kafka.tls.* or the worker's groupId instead" $name) -}}
{{- end -}}
{{- if has $name (list "sasl.username" "sasl.password" "ssl.key.password" "sasl.oauthbearer.client.secret") -}}
{{- fail (printf "kafka.config.%s is a credential: reference an existing Secret instead (kafka.sasl.existingSecret)" $name) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.schemaRegistry.existingSecret (not .Values.schemaRegistry.url) -}}
{{- fail "schemaRegistry.existingSecret is set but schemaRegistry.url is empty" -}}
{{- end -}}
{{- end -}}

{{/* Per-worker checks. Call with (dict "root" $ "w" $worker). */}}
{{- define "orderflow.validateWorker" -}}
{{- $w := .w -}}
{{- $partitions := int .root.Values.topics.partitions -}}
{{- if le (int $w.terminationGracePeriodSeconds) (int $w.shutdownTimeoutSeconds) -}}
{{- fail (printf "workers.%s: terminationGracePeriodSeconds (%d) must be greater than shutdownTimeoutSeconds (%d), or Kubernetes kills the worker before it finishes its shutdown (commit/abort of the open transaction)" $w.name (int $w.terminationGracePeriodSeconds) (int $w.shutdownTimeoutSeconds)) -}}
{{- end -}}
{{- if $w.keda.enabled -}}
{{- if gt (int $w.keda.maxReplicaCount) $partitions -}}
{{- fail (printf "workers.%s: keda.maxReplicaCount (%d) exceeds topics.partitions (%d): replicas beyond the partition count of %s would sit idle" $w.name (int $w.keda.maxReplicaCount) $partitions $w.inputTopic) -}}
{{- end -}}
{{- if gt (int $w.keda.minReplicaCount) (int $w.keda.maxReplicaCount) -}}
{{- fail (printf "workers.%s: keda.minReplicaCount (%d) exceeds keda.maxReplicaCount (%d)" $w.name (int $w.keda.minReplicaCount) (int $w.keda.maxReplicaCount)) -}}
{{- end -}}
{{- if and (include "orderflow.kafka.usesSasl" .root) (not (hasKey (include "orderflow.keda.saslModes" . | fromJson) .root.Values.kafka.sasl.mechanism)) -}}
{{- fail (printf "workers.%s: KEDA's kafka scaler does not support kafka.sasl.mechanism %s" $w.name .root.Values.kafka.sasl.mechanism) -}}
{{- end -}}
{{- end -}}
{{- if not (and $w.inputTopic $w.outputTopic $w.dlqTopic) -}}
{{- fail (printf "workers.%s: inputTopic, outputTopic and dlqTopic must all be set" $w.name) -}}
{{- end -}}
{{- $known := get (dict "notifier" (list "users")) $w.name | default list -}}
{{- range $route, $r := $w.routes -}}
{{- if not (has $route $known) -}}
{{- fail (printf "workers.%s.routes.%s: %s has no input named %s (its routes: %s)" $w.name $route $w.name $route (join ", " $known | default "none")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* librdkafka SASL mechanism -> KEDA kafka scaler `sasl` value, as JSON. */}}
{{- define "orderflow.keda.saslModes" -}}
{{- toJson (dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512") -}}
{{- end -}}

{{/* Name of the KEDA TriggerAuthentication (rendered when KEDA is used with SASL or TLS). */}}
{{- define "orderflow.keda.triggerAuthName" -}}
{{- include "orderflow.componentName" (dict "root" . "name" "kafka") -}}
{{- end -}}

{{/* True when KEDA needs credentials or TLS material to reach Kafka. */}}
{{- define "orderflow.keda.needsAuth" -}}
{{- if or (include "orderflow.kafka.usesSasl" .) (and (include "orderflow.kafka.usesTls" .) .Values.kafka.tls.existingSecret) }}true{{ end -}}
{{- end -}}

{{/*
Kafka credentials as env entries, by reference only (secretKeyRef).
Shared by the workers and the topics Job.
*/}}
{{- define "orderflow.kafka.secretEnv" -}}
{{- if include "orderflow.kafka.usesSasl" . }}
- name: ORDERFLOW_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: ORDERFLOW_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- end -}}

{{/* Volume with the Kafka TLS Secret (only the configured keys), if any. */}}
{{- define "orderflow.kafka.tlsVolume" -}}
{{- $t := .Values.kafka.tls -}}
{{- if and (include "orderflow.kafka.usesTls" .) $t.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ $t.existingSecret }}
    defaultMode: 0440
    items:
      {{- range $key := compact (list $t.caKey $t.certKey $t.keyKey) | uniq }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* Read-only mount of the Kafka TLS Secret, if any. */}}
{{- define "orderflow.kafka.tlsVolumeMount" -}}
{{- if and (include "orderflow.kafka.usesTls" .) .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ include "orderflow.kafka.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}
