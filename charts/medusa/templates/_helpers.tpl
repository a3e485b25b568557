{{/*
Chart name.
*/}}
{{- define "medusa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of every resource: the release name (or fullnameOverride), not
truncated so derived names stay predictable ("<fullname>-setup"), and at most
40 characters so the longest derived names stay within 63.
*/}}
{{- define "medusa.fullname" -}}
{{- $name := default .Release.Name .Values.fullnameOverride -}}
{{- if gt (len $name) 40 -}}
{{- fail (printf "resource base name %q is longer than 40 characters; use a shorter release name or fullnameOverride" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "medusa.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels of one component. Call with (dict "ctx" $ "component" "server").
*/}}
{{- define "medusa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "medusa.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Standard labels of one component. Call with (dict "ctx" $ "component" "server").
*/}}
{{- define "medusa.labels" -}}
helm.sh/chart: {{ include "medusa.chart" .ctx }}
{{ include "medusa.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: medusa
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/*
Pinned image reference: "<repository>:<tag>", or "<repository>:<tag>@<digest>"
when a digest pins the exact build. An empty or "latest" tag fails.
*/}}
{{- define "medusa.image" -}}
{{- $repo := required "image.repository is required" .repository -}}
{{- $tag := required (printf "a pinned image tag is required for %s" $repo) .tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "image %s must be pinned to a version, not \"latest\"" $repo) -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- with .digest }}@{{ . }}{{ end -}}
{{- end -}}

{{- define "medusa.storeHost" -}}
{{- required "store.host is required (the store's ingress host)" .Values.store.host -}}
{{- end -}}

{{- define "medusa.storeUrl" -}}
{{- required "store.url is required (the store's public URL)" .Values.store.url | trimSuffix "/" -}}
{{- end -}}

{{- define "medusa.secretName" -}}
{{- required "existingSecret is required (the Secret created before install)" .Values.existingSecret -}}
{{- end -}}

{{- define "medusa.serverName" -}}
{{- printf "%s-medusa" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.storefrontName" -}}
{{- printf "%s-storefront" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.postgresName" -}}
{{- printf "%s-postgres" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.redisName" -}}
{{- printf "%s-redis" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.workerName" -}}
{{- printf "%s-worker" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.redisVolumeName" -}}
{{- printf "%s-redis" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.setupName" -}}
{{- printf "%s-setup" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.appVolumeName" -}}
{{- printf "%s-app" (include "medusa.fullname" .) -}}
{{- end -}}

{{- define "medusa.filesName" -}}
{{- printf "%s-recipe" (include "medusa.fullname" .) -}}
{{- end -}}

{{/*
Where the recipe's scripts and storefront are: in the store image, or (the
fallback) the chart's files/ mounted from ConfigMaps.
*/}}
{{- define "medusa.recipeDir" -}}/opt/medusa-recipe{{- end -}}

{{/*
The app directory: on the app volume, or inside a prebuilt image.
*/}}
{{- define "medusa.appDir" -}}
{{- if .Values.image.prebuilt -}}{{ .Values.image.appDir }}{{- else -}}{{ .Values.appDir }}{{- end -}}
{{- end -}}

{{/*
Pod annotations: the global podAnnotations merged with component ones.
Call with (dict "ctx" $ "extra" .Values.setup.podAnnotations).
*/}}
{{- define "medusa.podAnnotations" -}}
{{- $annotations := merge (deepCopy (default (dict) .extra)) (deepCopy (default (dict) .ctx.Values.podAnnotations)) -}}
{{- with $annotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
Labels of the platform's network contract (docs/architecture.md): the
guardrails let the ingress controller reach pods labelled
store-provisioner.io/ingress=true, and let pods labelled
store-provisioner.io/egress=internet reach the internet, and pods labelled
store-provisioner.io/mail=relay reach the platform's mail relay.
Call with "ingress", "egress", "mail" or several, space-separated.
*/}}
{{- define "medusa.networkLabels" -}}
{{- $wanted := splitList " " . -}}
{{- if has "ingress" $wanted }}
store-provisioner.io/ingress: "true"
{{- end }}
{{- if has "egress" $wanted }}
store-provisioner.io/egress: internet
{{- end }}
{{- if has "mail" $wanted }}
store-provisioner.io/mail: relay
{{- end }}
{{- end -}}

{{/*
Container security context of the node containers: a read-only root file
system (the store image holds the built project; what a store writes goes to
its volume or to /tmp).
*/}}
{{- define "medusa.nodeContainerSecurityContext" -}}
{{- $context := deepCopy .Values.containerSecurityContext -}}
{{- $_ := set $context "readOnlyRootFilesystem" true -}}
{{- toYaml $context -}}
{{- end -}}

{{/*
Where uploads live (served at /static): the app volume's uploads/ directory.
*/}}
{{- define "medusa.uploadDir" -}}/data/uploads{{- end -}}

{{/*
The app volume's mounts in a node container. Prebuilt: its state/ over the
image's project (the publishable key, setup-done) and its uploads/. The
fallback: all of it at /data (the project is installed there).
Call with (dict "ctx" $ "readOnly" true) (the storefront) or (dict "ctx" $).
*/}}
{{- define "medusa.appMounts" -}}
{{- if .ctx.Values.image.prebuilt }}
- name: app
  mountPath: {{ printf "%s/state" .ctx.Values.image.appDir }}
  subPath: state
  {{- if .readOnly }}
  readOnly: true
  {{- end }}
{{- if not .readOnly }}
- name: app
  mountPath: {{ include "medusa.uploadDir" .ctx }}
  subPath: uploads
{{- end }}
{{- else }}
- name: app
  mountPath: /data
  {{- if .readOnly }}
  readOnly: true
  {{- end }}
{{- end }}
{{- if not .ctx.Values.image.prebuilt }}
- name: recipe
  mountPath: {{ include "medusa.recipeDir" .ctx }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The recipe's ConfigMap volume (the fallback only: the store image has it).
*/}}
{{- define "medusa.recipeVolume" -}}
{{- if not .Values.image.prebuilt }}
- name: recipe
  configMap:
    name: {{ include "medusa.filesName" . }}
    defaultMode: 0444
    {{- with (include "medusa.recipeFiles" . | fromYaml) }}
    items:
      {{- range $relative, $key := . }}
      - key: {{ $key | quote }}
        path: {{ $relative | quote }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "medusa.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "medusa.secretName" .ctx }}
      key: {{ .key }}
{{- end -}}

{{/*
The contract's environment shared by the setup Job and the Medusa server
(charts/medusa/README.md, "Environment").
*/}}
{{- define "medusa.env" -}}
- name: APP_DIR
  value: {{ include "medusa.appDir" . | quote }}
- name: NPM_CACHE_DIR
  value: {{ .Values.npmCacheDir | quote }}
- name: HOME
  value: /tmp
{{ include "medusa.secretEnv" (dict "ctx" . "name" "DB_PASSWORD" "key" "db-password") }}
# The generated password is letters and digits only: safe inside the URL.
# sslmode=disable: the store's own PostgreSQL, in its namespace and reached
# by its own pods only (NetworkPolicy), serves no TLS, as the official image
# does not. Medusa otherwise asks every database not on localhost for TLS,
# and its migrations time out waiting for a handshake that never comes.
- name: DATABASE_URL
  value: {{ printf "postgres://%s:$(DB_PASSWORD)@%s:5432/%s?sslmode=disable" .Values.postgres.user (include "medusa.postgresName" .) .Values.postgres.database | quote }}
- name: REDIS_URL
  value: {{ printf "redis://%s:6379" (include "medusa.redisName" .) | quote }}
- name: STORE_URL
  value: {{ include "medusa.storeUrl" . | quote }}
- name: STORE_NAME
  value: {{ .Values.store.name | quote }}
- name: UPLOAD_DIR
  value: {{ include "medusa.uploadDir" . | quote }}
{{ include "medusa.secretEnv" (dict "ctx" . "name" "JWT_SECRET" "key" "jwt-secret") }}
{{ include "medusa.secretEnv" (dict "ctx" . "name" "COOKIE_SECRET" "key" "cookie-secret") }}
- name: MEDUSA_DISABLE_TELEMETRY
  value: "true"
{{- end -}}

{{/*
The recipe files as ConfigMap items: nested paths under files/ are stored
under flattened keys ("storefront/server.js" -> "storefront__server.js") and
put back in place by the volume's items. The lockfile is kept apart
(medusa.lockfileChunks) because it may be larger than a ConfigMap holds.
*/}}
{{- define "medusa.recipeFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/**" -}}
{{- $relative := trimPrefix "files/" $path -}}
{{- if ne $relative "project/package-lock.json" -}}
{{- $_ := set $files $relative ($relative | replace "/" "__") -}}
{{- end -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/*
The lockfile cut into chunks of at most lockfileChunkBytes: a list of strings.
*/}}
{{- define "medusa.lockfileChunks" -}}
{{- $lock := .Files.Get "files/project/package-lock.json" -}}
{{- $size := int .Values.lockfileChunkBytes -}}
{{- $chunks := list -}}
{{- if $lock -}}
{{- $count := div (add (len $lock) (sub $size 1)) $size | int -}}
{{- range $i := until $count -}}
{{- $end := min (len $lock) (mul (add $i 1) $size) | int -}}
{{- $chunks = append $chunks (substr (mul $i $size | int) $end $lock) -}}
{{- end -}}
{{- end -}}
{{- toJson $chunks -}}
{{- end -}}

{{/*
Where a pod runs: the operator's nodeSelector, tolerations and affinity, on
every workload. A pod that shares the ReadWriteOnce app volume with the
server (the worker, the setup Job, the storefront) gets a required
podAffinity term for the server's pod, added to the operator's own
podAffinity terms rather than replacing them.
Call with (dict "ctx" $) or (dict "ctx" $ "follow" "server").
*/}}
{{- define "medusa.placement" -}}
{{- $affinity := deepCopy (default (dict) .ctx.Values.affinity) -}}
{{- with .follow -}}
{{- $selector := include "medusa.selectorLabels" (dict "ctx" $.ctx "component" .) | fromYaml -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" $selector) -}}
{{- $podAffinity := default (dict) (get $affinity "podAffinity") -}}
{{- $required := default (list) (get $podAffinity "requiredDuringSchedulingIgnoredDuringExecution") -}}
{{- $_ := set $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) -}}
{{- $_ := set $affinity "podAffinity" $podAffinity -}}
{{- end -}}
{{- with .ctx.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The platform's SMTP relay (values mail.existingSecret, the Secret
"store-mail" the platform keeps in the store's namespace) as the STORE_MAIL_*
variables medusa-config.ts registers the project's SMTP notification provider
with, and the merchant's address for new-order mails (the admin's, from the
store's secret). Nothing without it: no notification module, no mail.
*/}}
{{- define "medusa.mailEnv" -}}
{{- with .Values.mail.existingSecret }}
{{- $secret := . }}
{{- range $key, $var := dict "host" "HOST" "port" "PORT" "security" "SECURITY" "username" "USERNAME" "password" "PASSWORD" "from" "FROM" }}
- name: STORE_MAIL_{{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret | quote }}
      key: {{ $key }}
{{- end }}
{{ include "medusa.secretEnv" (dict "ctx" $ "name" "STORE_MERCHANT_EMAIL" "key" "admin-email") }}
{{- end }}
{{- end -}}

{{/*
The pod annotation that restarts a pod when the mail relay changes (pods
read the Secret at start): the digest the platform passes as mail.revision.
*/}}
{{- define "medusa.mailAnnotation" -}}
{{- with .Values.mail.existingSecret -}}
{{- dict "store-provisioner.io/mail" (required "mail.revision is required with mail.existingSecret" $.Values.mail.revision) | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}
