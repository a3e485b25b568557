{{- define "webshop.labels" -}}
app.kubernetes.io/name: webshop
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "webshop.pod" -}}
nodeSelector: {{- toYaml .Values.nodeSelector | nindent 2 }}
tolerations: {{- toYaml .Values.tolerations | nindent 2 }}
affinity: {{- toYaml .Values.affinity | nindent 2 }}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 65534
  runAsGroup: 65534
  seccompProfile: {type: RuntimeDefault}
{{- end }}

{{- define "webshop.container" -}}
image: {{ .Values.image }}
imagePullPolicy: Never
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
resources:
  requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
  limits: {cpu: 200m, memory: 32Mi, ephemeral-storage: 64Mi}
{{- end }}
