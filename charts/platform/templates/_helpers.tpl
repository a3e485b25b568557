{{/* Chart name. */}}
{{- define "platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of every resource: the release name, or fullnameOverride. Limited to
40 characters so derived names ("<fullname>-provision", ...) stay within 63.
*/}}
{{- define "platform.fullname" -}}
{{- $name := default .Release.Name .Values.fullnameOverride -}}
{{- if gt (len $name) 40 -}}
{{- fail (printf "resource base name %q is longer than 40 characters; use a shorter release name or fullnameOverride" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component. Call with (dict "ctx" $ "component" "web"). */}}
{{- define "platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component. Call with (dict "ctx" $ "component" "web"). */}}
{{- define "platform.labels" -}}
helm.sh/chart: {{ include "platform.chart" .ctx }}
{{ include "platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: store-provisioner
{{- end -}}

{{/* The ServiceAccount every platform pod runs as. */}}
{{- define "platform.serviceAccountName" -}}
{{- default (include "platform.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
