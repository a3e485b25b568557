{{- define "sample.labels" -}}
app.kubernetes.io/name: sample
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sample.securityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  runAsNonRoot: true
  runAsUser: 1000
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
resources:
  requests:
    cpu: 50m
    memory: 64Mi
  limits:
    cpu: 200m
    memory: 128Mi
{{- end }}
