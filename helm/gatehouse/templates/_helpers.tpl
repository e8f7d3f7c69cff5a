{{- define "gatehouse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gatehouse.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gatehouse.postgresql" -}}
{{- if eq .Values.database.type "postgresql" }}true{{ end -}}
{{- end -}}

{{/*
Refusals, rendered before anything else: SQLite is one file owned by one process (SPEC
section 8), so more than one replica needs PostgreSQL; PostgreSQL's URL is a secret.
*/}}
{{- define "gatehouse.validate" -}}
{{- if include "gatehouse.postgresql" . -}}
{{- if not .Values.existingSecret -}}
{{- fail "gatehouse: database.type postgresql needs existingSecret, the name of a Secret holding the database URL (key secretKeys.databaseUrl)" -}}
{{- end -}}
{{- else -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail (printf "gatehouse: SQLite allows one replica only (replicaCount is %d): one process owns the database file. For more replicas set database.type=postgresql and existingSecret" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- fail "gatehouse: SQLite allows one replica only, so autoscaling.enabled needs database.type=postgresql and existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.providerSecrets (not .Values.existingSecret) -}}
{{- fail "gatehouse: providerSecrets are keys of existingSecret, which is not set" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "gatehouse: autoscaling.minReplicas is greater than autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}

{{/* A secret from existingSecret as an env variable; optional unless it is the database URL. */}}
{{- define "gatehouse.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if not .required }}
      optional: true
      {{- end }}
{{- end -}}

{{/* The pod spec parts every pod of the chart shares: the restricted profile. */}}
{{- define "gatehouse.podCommon" -}}
enableServiceLinks: false
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
