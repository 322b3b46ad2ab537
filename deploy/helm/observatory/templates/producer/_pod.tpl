{{/*
observatory.producer.podTemplate - the pod template shared by the DaemonSet
and the Deployment kinds. Transcripts are mounted read-only; checkpoints go
to a volume that outlives the pod (hostPath on a node, a PVC for the
Deployment), because a lost checkpoint means records are sent again.
*/}}
{{- define "observatory.producer.podTemplate" -}}
{{- $c := dict "ctx" . "component" "producer" -}}
{{- $p := .Values.producer -}}
metadata:
  labels:
    {{- include "observatory.producer.labels" . | nindent 4 }}
    {{- with $p.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "observatory.checksumAnnotations" $c | nindent 4 }}
    {{- with $p.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "observatory.producer.serviceAccountName" . }}
  automountServiceAccountToken: {{ $p.serviceAccount.automountServiceAccountToken }}
  {{- with (include "observatory.imagePullSecrets" .) }}
  {{- . | nindent 2 }}
  {{- end }}
  securityContext:
    {{- include "observatory.podSecurityContext" $c | nindent 4 }}
  {{- with $p.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  # SIGTERM: flush in-flight records, write the checkpoints, exit.
  terminationGracePeriodSeconds: {{ $p.terminationGracePeriodSeconds }}
  {{- with $p.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: producer
      image: {{ include "observatory.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: ["obs-producer"]
      securityContext:
        {{- include "observatory.containerSecurityContext" $c | nindent 8 }}
      ports:
        - name: admin
          containerPort: {{ $p.containerPorts.admin }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "observatory.producer.fullname" . }}
      env:
        - name: OBS_HOST
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        {{- with (include "observatory.kafka.saslEnv" .) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $p.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $p.livenessProbe.enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml (omit $p.livenessProbe "enabled") | nindent 8 }}
      {{- end }}
      {{- if $p.readinessProbe.enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        {{- toYaml (omit $p.readinessProbe "enabled") | nindent 8 }}
      {{- end }}
      {{- with $p.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: transcripts
          mountPath: {{ $p.transcripts.mountPath }}
          readOnly: true
        - name: state
          mountPath: {{ $p.state.mountPath }}
        - name: tmp
          mountPath: /tmp
  volumes:
    {{- if eq $p.kind "DaemonSet" }}
    - name: transcripts
      hostPath:
        path: {{ $p.transcripts.hostPath }}
        type: Directory
    {{- /* Directory, not DirectoryOrCreate: the kubelet would create it
    owned by root, and uid 10001 could not write its checkpoint there.
    Provision it on the node, owned by 10001 (values.yaml producer.state). */}}
    - name: state
      hostPath:
        path: {{ $p.state.hostPath }}
        type: Directory
    {{- else }}
    - name: transcripts
      persistentVolumeClaim:
        claimName: {{ $p.transcripts.existingClaim }}
        readOnly: true
    - name: state
      persistentVolumeClaim:
        claimName: {{ $p.state.existingClaim }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
{{- end -}}
