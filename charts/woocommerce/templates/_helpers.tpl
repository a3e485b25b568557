{{/*
Chart name.
*/}}
{{- define "woocommerce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of every resource: the release name (or fullnameOverride).
It is not truncated, so derived names stay predictable ("<fullname>-setup");
it is limited to 40 characters so that the longest derived names (StatefulSet
revision labels, "<fullname>-mariadb-headless") stay within 63.
*/}}
{{- define "woocommerce.fullname" -}}
{{- $name := default .Release.Name .Values.fullnameOverride -}}
{{- if gt (len $name) 40 -}}
{{- fail (printf "resource base name %q is longer than 40 characters; use a shorter release name or fullnameOverride" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "woocommerce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels of one component. Call with (dict "ctx" $ "component" "wordpress").
*/}}
{{- define "woocommerce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "woocommerce.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Standard labels of one component. Call with (dict "ctx" $ "component" "wordpress").
*/}}
{{- define "woocommerce.labels" -}}
helm.sh/chart: {{ include "woocommerce.chart" .ctx }}
{{ include "woocommerce.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: woocommerce
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/*
Pinned image reference: "<repository>:<tag>". An empty or "latest" tag fails.
*/}}
{{- define "woocommerce.image" -}}
{{- $repo := required "image.repository is required" .repository -}}
{{- $tag := required (printf "a pinned image tag is required for %s" $repo) .tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "image %s must be pinned to a version, not \"latest\"" $repo) -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- define "woocommerce.storeHost" -}}
{{- required "store.host is required (the store's ingress host)" .Values.store.host -}}
{{- end -}}

{{- define "woocommerce.storeUrl" -}}
{{- required "store.url is required (the store's public URL)" .Values.store.url | trimSuffix "/" -}}
{{- end -}}

{{- define "woocommerce.secretName" -}}
{{- required "existingSecret is required (the Secret created before install)" .Values.existingSecret -}}
{{- end -}}

{{- define "woocommerce.wordpressName" -}}
{{- printf "%s-wordpress" (include "woocommerce.fullname" .) -}}
{{- end -}}

{{- define "woocommerce.mariadbName" -}}
{{- printf "%s-mariadb" (include "woocommerce.fullname" .) -}}
{{- end -}}

{{- define "woocommerce.setupName" -}}
{{- printf "%s-setup" (include "woocommerce.fullname" .) -}}
{{- end -}}

{{/*
Pod annotations: the global podAnnotations merged with component ones.
Call with (dict "ctx" $ "extra" .Values.setup.podAnnotations).
*/}}
{{- define "woocommerce.podAnnotations" -}}
{{- $annotations := merge (deepCopy (default (dict) .extra)) (deepCopy (default (dict) .ctx.Values.podAnnotations)) -}}
{{- with $annotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
Database connection environment shared by WordPress and the setup Job
(the generated wp-config.php reads these at run time).
*/}}
{{- define "woocommerce.dbEnv" -}}
- name: WORDPRESS_DB_HOST
  value: {{ include "woocommerce.mariadbName" . | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ .Values.mariadb.database | quote }}
- name: WORDPRESS_DB_USER
  value: {{ .Values.mariadb.user | quote }}
- name: WORDPRESS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "woocommerce.secretName" . }}
      key: db-password
{{- end -}}

{{/*
Labels of the platform's network contract (docs/architecture.md): the
guardrails let the ingress controller reach pods labelled
store-provisioner.io/ingress=true, and let pods labelled
store-provisioner.io/egress=internet reach the internet, and pods labelled
store-provisioner.io/mail=relay reach the platform's mail relay. MariaDB
carries none. Call with "ingress", "egress", "mail" or several, space-separated.
*/}}
{{- define "woocommerce.networkLabels" -}}
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
Where a pod runs: the operator's nodeSelector, tolerations and affinity, on
every workload. A pod that must run beside another component's pod (the
setup Job beside WordPress: the content volume is ReadWriteOnce) gets a
required podAffinity term for it, added to the operator's own podAffinity
terms rather than replacing them.
Call with (dict "ctx" $) or (dict "ctx" $ "follow" "wordpress").
*/}}
{{- define "woocommerce.placement" -}}
{{- $affinity := deepCopy (default (dict) .ctx.Values.affinity) -}}
{{- with .follow -}}
{{- $selector := include "woocommerce.selectorLabels" (dict "ctx" $.ctx "component" .) | fromYaml -}}
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
PHP's limits for WordPress (values wordpress.php), as an ini file: uploads of
product photos need more than PHP's 2M and 8M defaults.
*/}}
{{- define "woocommerce.phpIni" -}}
{{- with .Values.wordpress.php -}}
upload_max_filesize = {{ .uploadMaxFilesize }}
post_max_size = {{ .postMaxSize }}
memory_limit = {{ .memoryLimit }}
{{- end }}
{{- end -}}

{{/*
The platform's SMTP relay (values mail.existingSecret, the Secret
"store-mail" the platform keeps in the store's namespace), as the
STORE_MAIL_* variables the must-use plugin files/mu-plugins/store-mail.php
reads. Nothing without it: the plugin then does nothing.
*/}}
{{- define "woocommerce.mailEnv" -}}
{{- with .Values.mail.existingSecret }}
{{- $secret := . }}
{{- range $key, $var := dict "host" "HOST" "port" "PORT" "security" "SECURITY" "username" "USERNAME" "password" "PASSWORD" "from" "FROM" }}
- name: STORE_MAIL_{{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret | quote }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}
