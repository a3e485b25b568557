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

{{/* The ServiceAccount the workers (and the migrations) run as: the store manager. */}}
{{- define "platform.serviceAccountName" -}}
{{- default (include "platform.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/*
The web pods' own ServiceAccount: they face the internet, so they hold only
the store page's reads (templates/rbac.yaml, the store reader role).
*/}}
{{- define "platform.webServiceAccountName" -}}
{{- default (printf "%s-web" (include "platform.fullname" .)) .Values.serviceAccount.webName -}}
{{- end -}}

{{/* The platform's image; the tag defaults to the chart's appVersion. */}}
{{- define "platform.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The platform's own URL, from the ingress host and whether TLS is on. */}}
{{- define "platform.url" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}

{{- define "platform.postgresqlName" -}}
{{- printf "%s-postgresql" (include "platform.fullname" .) -}}
{{- end -}}

{{/*
Secret keys the platform reads as files (<NAME>_FILE, provisioner/env.py): a
secret in a file stays out of the process environment, which helm and every
other child process inherit. Only the keys named in values are mounted.
*/}}
{{- define "platform.secretFiles" -}}
{{- $keys := .Values.existingSecret.keys -}}
{{- $files := dict -}}
{{- if $keys.secretKey }}{{ $_ := set $files "SECRET_KEY" $keys.secretKey }}{{ end -}}
{{- if and $keys.databaseUrl (not .Values.postgresql.enabled) }}{{ $_ := set $files "DATABASE_URL" $keys.databaseUrl }}{{ end -}}
{{- if $keys.redisUrl }}{{ $_ := set $files "REDIS_URL" $keys.redisUrl }}{{ end -}}
{{- if $keys.metricsToken }}{{ $_ := set $files "METRICS_TOKEN" $keys.metricsToken }}{{ end -}}
{{- if $keys.emailHostPassword }}{{ $_ := set $files "EMAIL_HOST_PASSWORD" $keys.emailHostPassword }}{{ end -}}
{{- if $keys.storeMailPassword }}{{ $_ := set $files "STORE_MAIL_PASSWORD" $keys.storeMailPassword }}{{ end -}}
{{- if $keys.backupSecretAccessKey }}{{ $_ := set $files "BACKUP_S3_SECRET_ACCESS_KEY" $keys.backupSecretAccessKey }}{{ end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
Pod-level settings shared by every platform pod (web, workers, migrations).
Call with $, or (dict "ctx" $ "serviceAccountName" name) for another account.
*/}}
{{- define "platform.podSpec" -}}
{{- $c := . -}}
{{- $sa := "" -}}
{{- if hasKey . "ctx" }}{{ $c = .ctx }}{{ $sa = .serviceAccountName }}{{ end -}}
serviceAccountName: {{ default (include "platform.serviceAccountName" $c) $sa }}
enableServiceLinks: false
{{- with $c.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $c.Values.podSecurityContext | nindent 2 }}
{{- with $c.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Volumes every platform pod mounts: a writable /tmp and the secret files. */}}
{{- define "platform.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSize }}
- name: secrets
  secret:
    secretName: {{ required "existingSecret.name is required: create the Secret first (docs/production.md)" .Values.existingSecret.name }}
    defaultMode: 0400
    items:
      {{- range $name, $key := (include "platform.secretFiles" . | fromJson) }}
      - key: {{ $key }}
        path: {{ $name | lower }}
      {{- end }}
{{- end -}}

{{/*
Image, environment, volume mounts and security of every platform container.
Call with (dict "ctx" $ "extraEnv" (list ...)).
*/}}
{{- define "platform.containerCommon" -}}
{{- $ := .ctx -}}
image: {{ include "platform.image" $ | quote }}
imagePullPolicy: {{ $.Values.image.pullPolicy }}
securityContext:
  {{- toYaml $.Values.containerSecurityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "platform.fullname" $ }}
env:
  # The provisioning binds this account in every store namespace it creates.
  - name: PLATFORM_SERVICE_ACCOUNT
    value: {{ printf "%s/%s" $.Release.Namespace (include "platform.serviceAccountName" $) | quote }}
  # ... bound to this ClusterRole (templates/rbac.yaml).
  - name: PLATFORM_STORE_ROLE
    value: {{ include "platform.storeManagerRoleName" $ | quote }}
  # And the web pods' account, bound there to the store reader role.
  - name: PLATFORM_WEB_SERVICE_ACCOUNT
    value: {{ printf "%s/%s" $.Release.Namespace (include "platform.webServiceAccountName" $) | quote }}
  - name: PLATFORM_WEB_ROLE
    value: {{ include "platform.storeReaderRoleName" $ | quote }}
  {{- range $name, $key := (include "platform.secretFiles" $ | fromJson) }}
  - name: {{ $name }}_FILE
    value: /etc/platform/secrets/{{ $name | lower }}
  {{- end }}
  {{- if $.Values.postgresql.enabled }}
  # The bundled database's URL, built from its password (a URL-safe one:
  # docs/production.md); Kubernetes expands $(POSTGRES_PASSWORD) itself.
  - name: POSTGRES_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ $.Values.existingSecret.name }}
        key: {{ required "existingSecret.keys.postgresPassword is required with the bundled PostgreSQL" $.Values.existingSecret.keys.postgresPassword }}
  - name: DATABASE_URL
    value: {{ printf "postgres://%s:$(POSTGRES_PASSWORD)@%s:5432/%s" $.Values.postgresql.user (include "platform.postgresqlName" $) $.Values.postgresql.database | quote }}
  {{- end }}
  {{- with .extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: secrets
    mountPath: /etc/platform/secrets
    readOnly: true
{{- end -}}

{{/*
An init container that holds a pod back until the database has every
migration of this image: on an upgrade, new pods start while the migrations
Job runs and must not serve (or run tasks) against the old schema; the old
pods keep serving meanwhile.
*/}}
{{- define "platform.waitForMigrations" -}}
- name: wait-for-migrations
  {{- include "platform.containerCommon" (dict "ctx" .) | nindent 2 }}
  command:
    - sh
    - -c
    - until python manage.py migrate --check >/dev/null; do echo "waiting for the migrations Job"; sleep 5; done
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
{{- end -}}

{{/* Spread a component's replicas over nodes where the scheduler can. */}}
{{- define "platform.antiAffinity" -}}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "platform.selectorLabels" . | nindent 14 }}
{{- end -}}
