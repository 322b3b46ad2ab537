{{/*
_helpers.tpl - names, labels, images, environment and validation shared by
every template of the chart.

Naming: generic helpers are `observatory.<thing>`; per-component helpers are
`observatory.<component>.<thing>` (component = api, worker, producer,
migrations, partitions) and are thin wrappers over the generic ones so that
each template reads as `include "observatory.api.fullname" .`.

Selectors use only the immutable labels app.kubernetes.io/name, /instance and
/component: never the chart version or the app version, which change on every
upgrade and would make `helm upgrade` fail on Deployment selectors.
*/}}

{{/* Chart name, overridable. */}}
{{- define "observatory.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "observatory.fullname" -}}
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

{{- define "observatory.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "observatory.labels" -}}
helm.sh/chart: {{ include "observatory.chart" . }}
{{ include "observatory.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: observatory
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Immutable selector labels. */}}
{{- define "observatory.selectorLabels" -}}
app.kubernetes.io/name: {{ include "observatory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common annotations block body (may be empty). */}}
{{- define "observatory.annotations" -}}
{{- with .Values.commonAnnotations }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{/*
Generic per-component helpers. Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "observatory.component.fullname" -}}
{{- printf "%s-%s" (include "observatory.fullname" .ctx | trunc 52 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "observatory.component.labels" -}}
{{ include "observatory.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "observatory.component.selectorLabels" -}}
{{ include "observatory.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "observatory.component.serviceAccountName" -}}
{{- $sa := index .ctx.Values .component "serviceAccount" -}}
{{- if $sa.create -}}
{{- default (include "observatory.component.fullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* api */}}
{{- define "observatory.api.fullname" -}}{{ include "observatory.component.fullname" (dict "ctx" . "component" "api") }}{{- end -}}
{{- define "observatory.api.labels" -}}{{ include "observatory.component.labels" (dict "ctx" . "component" "api") }}{{- end -}}
{{- define "observatory.api.selectorLabels" -}}{{ include "observatory.component.selectorLabels" (dict "ctx" . "component" "api") }}{{- end -}}
{{- define "observatory.api.serviceAccountName" -}}{{ include "observatory.component.serviceAccountName" (dict "ctx" . "component" "api") }}{{- end -}}

{{/* worker */}}
{{- define "observatory.worker.fullname" -}}{{ include "observatory.component.fullname" (dict "ctx" . "component" "worker") }}{{- end -}}
{{- define "observatory.worker.labels" -}}{{ include "observatory.component.labels" (dict "ctx" . "component" "worker") }}{{- end -}}
{{- define "observatory.worker.selectorLabels" -}}{{ include "observatory.component.selectorLabels" (dict "ctx" . "component" "worker") }}{{- end -}}
{{- define "observatory.worker.serviceAccountName" -}}{{ include "observatory.component.serviceAccountName" (dict "ctx" . "component" "worker") }}{{- end -}}

{{/* producer */}}
{{- define "observatory.producer.fullname" -}}{{ include "observatory.component.fullname" (dict "ctx" . "component" "producer") }}{{- end -}}
{{- define "observatory.producer.labels" -}}{{ include "observatory.component.labels" (dict "ctx" . "component" "producer") }}{{- end -}}
{{- define "observatory.producer.selectorLabels" -}}{{ include "observatory.component.selectorLabels" (dict "ctx" . "component" "producer") }}{{- end -}}
{{- define "observatory.producer.serviceAccountName" -}}{{ include "observatory.component.serviceAccountName" (dict "ctx" . "component" "producer") }}{{- end -}}

{{/* migrations (hook Job) and partitions (CronJob): obsctl, database only */}}
{{- define "observatory.migrations.fullname" -}}{{ include "observatory.component.fullname" (dict "ctx" . "component" "migrations") }}{{- end -}}
{{- define "observatory.migrations.labels" -}}{{ include "observatory.component.labels" (dict "ctx" . "component" "migrations") }}{{- end -}}
{{- define "observatory.partitions.fullname" -}}{{ include "observatory.component.fullname" (dict "ctx" . "component" "partitions") }}{{- end -}}
{{- define "observatory.partitions.labels" -}}{{ include "observatory.component.labels" (dict "ctx" . "component" "partitions") }}{{- end -}}

{{/* Image reference; a digest wins over a tag. */}}
{{- define "observatory.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets block, or nothing. Use with `with` to avoid blank lines. */}}
{{- define "observatory.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Security contexts: the chart-wide default merged with a component's override.
Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "observatory.podSecurityContext" -}}
{{- $override := dict -}}
{{- if hasKey .ctx.Values .component -}}
{{- $override = (index .ctx.Values .component).podSecurityContext | default dict -}}
{{- end -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.podSecurityContext) $override) -}}
{{- end -}}

{{- define "observatory.containerSecurityContext" -}}
{{- $override := dict -}}
{{- if hasKey .ctx.Values .component -}}
{{- $override = (index .ctx.Values .component).containerSecurityContext | default dict -}}
{{- end -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.containerSecurityContext) $override) -}}
{{- end -}}

{{/* Soft anti-affinity across nodes unless the user gave an affinity. */}}
{{- define "observatory.affinity" -}}
{{- $v := index .ctx.Values .component -}}
{{- if $v.affinity -}}
{{- toYaml $v.affinity -}}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "observatory.component.selectorLabels" . | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------
Secrets. The chart creates <fullname>-credentials only for what is not
provided through an existingSecret.
--------------------------------------------------------------------- */}}
{{- define "observatory.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "observatory.fullname" .) -}}
{{- end -}}

{{- define "observatory.database.secretName" -}}
{{- default (include "observatory.credentialsSecretName" .) .Values.externalDatabase.existingSecret -}}
{{- end -}}

{{- define "observatory.database.secretKey" -}}
{{- if .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecretUrlKey -}}
{{- else -}}
database-url
{{- end -}}
{{- end -}}

{{/* True ("true") when the Kafka connection authenticates with SASL. */}}
{{- define "observatory.kafka.saslEnabled" -}}
{{- if hasPrefix "SASL_" .Values.externalKafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{- define "observatory.kafka.saslSecretName" -}}
{{- default (include "observatory.credentialsSecretName" .) .Values.externalKafka.sasl.existingSecret -}}
{{- end -}}

{{- define "observatory.kafka.saslUsernameKey" -}}
{{- if .Values.externalKafka.sasl.existingSecret -}}
{{- .Values.externalKafka.sasl.existingSecretUsernameKey -}}
{{- else -}}
kafka-sasl-username
{{- end -}}
{{- end -}}

{{- define "observatory.kafka.saslPasswordKey" -}}
{{- if .Values.externalKafka.sasl.existingSecret -}}
{{- .Values.externalKafka.sasl.existingSecretPasswordKey -}}
{{- else -}}
kafka-sasl-password
{{- end -}}
{{- end -}}

{{/* True when the chart must create the credentials Secret at all. */}}
{{- define "observatory.credentialsSecretNeeded" -}}
{{- if and .Values.externalDatabase.url (not .Values.externalDatabase.existingSecret) -}}true{{- end -}}
{{- if and (include "observatory.kafka.saslEnabled" .) (not .Values.externalKafka.sasl.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------
Environment. Non-secret settings live in each component's ConfigMap as
OBS_* variables (docs/CONTRACTS.md "Configuration"); secrets come from
Secrets as env valueFrom so they never land in a ConfigMap.
--------------------------------------------------------------------- */}}

{{/* ConfigMap data shared by the Kafka clients (producer, worker); the DLQ
topic is the worker's alone. */}}
{{- define "observatory.kafka.configData" -}}
OBS_KAFKA_BOOTSTRAP: {{ .Values.externalKafka.bootstrap | quote }}
OBS_KAFKA_TOPIC: {{ .Values.externalKafka.topic | quote }}
OBS_RDKAFKA__SECURITY_PROTOCOL: {{ .Values.externalKafka.securityProtocol | quote }}
{{- if .Values.externalKafka.sasl.mechanisms }}
OBS_RDKAFKA__SASL_MECHANISMS: {{ .Values.externalKafka.sasl.mechanisms | quote }}
{{- end }}
{{- range $k, $v := .Values.externalKafka.rdkafka }}
{{ printf "OBS_RDKAFKA__%s" ($k | replace "." "_" | upper) }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Settings map (key.name: value) as OBS_KEY_NAME ConfigMap data lines. */}}
{{- define "observatory.settingsData" -}}
{{- range $k, $v := . }}
{{ printf "OBS_%s" ($k | replace "." "_" | replace "-" "_" | upper) }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* The same, indented by n, or nothing: (dict "settings" MAP "indent" N). */}}
{{- define "observatory.settingsLines" -}}
{{- with (include "observatory.settingsData" .settings | trim) }}
{{- . | nindent (int $.indent) }}
{{- end }}
{{- end -}}

{{/* env entries: database URL from its Secret. */}}
{{- define "observatory.database.env" -}}
- name: OBS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "observatory.database.secretName" . }}
      key: {{ include "observatory.database.secretKey" . }}
{{- end -}}

{{/* env entries: SASL credentials from their Secret (nothing when not SASL).
Callers use `with` + nindent so that nothing, not a blank line, is left. */}}
{{- define "observatory.kafka.saslEnv" -}}
{{- if include "observatory.kafka.saslEnabled" . -}}
- name: OBS_RDKAFKA__SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "observatory.kafka.saslSecretName" . }}
      key: {{ include "observatory.kafka.saslUsernameKey" . }}
- name: OBS_RDKAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "observatory.kafka.saslSecretName" . }}
      key: {{ include "observatory.kafka.saslPasswordKey" . }}
{{- end }}
{{- end -}}

{{/* Pod annotation that rolls the pods when their configuration changes. */}}
{{- define "observatory.checksumAnnotations" -}}
checksum/config: {{ include (print .ctx.Template.BasePath "/" .component "/configmap.yaml") .ctx | sha256sum }}
{{- if include "observatory.credentialsSecretNeeded" .ctx }}
checksum/secret: {{ include (print .ctx.Template.BasePath "/secret.yaml") .ctx | sha256sum }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------------
validateValues: collect every bad combination, then fail once with all of
them, each on its own line, so a user fixes everything in one go.
--------------------------------------------------------------------- */}}
{{- define "observatory.validateValues" -}}
{{- $messages := list -}}
{{- $messages = append $messages (include "observatory.validateValues.database" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.kafka" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.sasl" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.api.autoscaling" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.worker.autoscaling" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.worker.partitions" .) -}}
{{- $messages = append $messages (include "observatory.validateValues.producer" .) -}}
{{- $messages = without $messages "" -}}
{{- $message := join "\n" $messages -}}
{{- if $message -}}
{{- printf "\nVALUES VALIDATION:\n%s" $message | fail -}}
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.database" -}}
{{- $needsDb := or .Values.api.enabled .Values.worker.enabled .Values.migrations.enabled .Values.partitions.enabled -}}
{{- if and $needsDb (not .Values.externalDatabase.url) (not .Values.externalDatabase.existingSecret) -}}
observatory: externalDatabase
    No database is configured. Set externalDatabase.url or externalDatabase.existingSecret.
{{- else if and .Values.externalDatabase.url .Values.externalDatabase.existingSecret -}}
observatory: externalDatabase
    Set only one of externalDatabase.url and externalDatabase.existingSecret.
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.kafka" -}}
{{- if and (or .Values.worker.enabled .Values.producer.enabled) (not .Values.externalKafka.bootstrap) -}}
observatory: externalKafka.bootstrap
    No Kafka is configured. Set externalKafka.bootstrap to the broker list (host:port,...).
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.sasl" -}}
{{- $sasl := .Values.externalKafka.sasl -}}
{{- if include "observatory.kafka.saslEnabled" . -}}
{{- if not $sasl.mechanisms -}}
observatory: externalKafka.sasl.mechanisms
    externalKafka.securityProtocol is {{ .Values.externalKafka.securityProtocol }} but externalKafka.sasl.mechanisms is empty.
{{- else if and (not $sasl.existingSecret) (or (not $sasl.username) (not $sasl.password)) -}}
observatory: externalKafka.sasl
    SASL needs credentials. Set externalKafka.sasl.existingSecret, or both externalKafka.sasl.username and externalKafka.sasl.password.
{{- end -}}
{{- else if $sasl.mechanisms -}}
observatory: externalKafka.sasl.mechanisms
    externalKafka.sasl.mechanisms is set but externalKafka.securityProtocol ({{ .Values.externalKafka.securityProtocol }}) is not SASL_SSL or SASL_PLAINTEXT.
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.api.autoscaling" -}}
{{- $a := .Values.api -}}
{{- if and $a.enabled $a.autoscaling.enabled (not (kindIs "invalid" $a.replicaCount)) -}}
observatory: api.replicaCount
    api.autoscaling.enabled is true, so the HPA owns the replica count: leave api.replicaCount empty (null).
{{- else if and $a.enabled $a.autoscaling.enabled (gt (int $a.autoscaling.minReplicas) (int $a.autoscaling.maxReplicas)) -}}
observatory: api.autoscaling
    api.autoscaling.minReplicas ({{ $a.autoscaling.minReplicas }}) is greater than api.autoscaling.maxReplicas ({{ $a.autoscaling.maxReplicas }}).
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.worker.autoscaling" -}}
{{- $w := .Values.worker -}}
{{- if and $w.enabled $w.autoscaling.enabled (not (kindIs "invalid" $w.replicaCount)) -}}
observatory: worker.replicaCount
    worker.autoscaling.enabled is true, so the autoscaler owns the replica count: leave worker.replicaCount empty (null).
{{- else if and $w.enabled $w.autoscaling.enabled (gt (int $w.autoscaling.minReplicas) (int $w.autoscaling.maxReplicas)) -}}
observatory: worker.autoscaling
    worker.autoscaling.minReplicas ({{ $w.autoscaling.minReplicas }}) is greater than worker.autoscaling.maxReplicas ({{ $w.autoscaling.maxReplicas }}).
{{- else if and $w.enabled (not $w.autoscaling.enabled) $w.autoscaling.keda.enabled -}}
observatory: worker.autoscaling.keda.enabled
    worker.autoscaling.keda.enabled is true but worker.autoscaling.enabled is false. Enable autoscaling or disable KEDA.
{{- end -}}
{{- end -}}

{{/* A consumer group never uses more members than the topic has partitions. */}}
{{- define "observatory.validateValues.worker.partitions" -}}
{{- $w := .Values.worker -}}
{{- $p := int .Values.externalKafka.partitions -}}
{{- if $w.enabled -}}
{{- if and $w.autoscaling.enabled (gt (int $w.autoscaling.maxReplicas) $p) -}}
observatory: worker.autoscaling.maxReplicas
    worker.autoscaling.maxReplicas ({{ $w.autoscaling.maxReplicas }}) exceeds externalKafka.partitions ({{ $p }}); workers beyond the partition count sit idle. Lower maxReplicas or add partitions (ops/runbooks/scaling.md).
{{- else if and (not $w.autoscaling.enabled) (not (kindIs "invalid" $w.replicaCount)) (gt (int $w.replicaCount) $p) -}}
observatory: worker.replicaCount
    worker.replicaCount ({{ $w.replicaCount }}) exceeds externalKafka.partitions ({{ $p }}); workers beyond the partition count sit idle.
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "observatory.validateValues.producer" -}}
{{- $p := .Values.producer -}}
{{- if $p.enabled -}}
{{- if not (or (eq $p.kind "DaemonSet") (eq $p.kind "Deployment")) -}}
observatory: producer.kind
    producer.kind must be DaemonSet or Deployment, not "{{ $p.kind }}".
{{- else if and (eq $p.kind "Deployment") (not $p.state.existingClaim) -}}
observatory: producer.state.existingClaim
    producer.kind Deployment needs producer.state.existingClaim: checkpoints must survive pod restarts or records are sent twice.
{{- else if and (eq $p.kind "Deployment") (not $p.transcripts.existingClaim) -}}
observatory: producer.transcripts.existingClaim
    producer.kind Deployment needs producer.transcripts.existingClaim, the volume that holds the transcripts.
{{- end -}}
{{- end -}}
{{- end -}}
