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
wp-config.php's environment, shared by WordPress, the setup Job and the cron
runs (the generated wp-config.php reads these at run time): the database
connection and, in WORDPRESS_CONFIG_EXTRA (which the official image's
wp-config.php evals): WPMU_PLUGIN_DIR, the chart's must-use plugins outside
the content volume (mounted where a pod needs them: WordPress and the cron
runs, which may send mail), and, while the cron CronJob runs WP-Cron,
DISABLE_WP_CRON, so no visitor's request and no wp-cli command starts WP-Cron
itself.
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
- name: WORDPRESS_CONFIG_EXTRA
  value: |
    define( 'WPMU_PLUGIN_DIR', '/var/www/store-mu-plugins' );
    {{- if .Values.cron.enabled }}
    define( 'DISABLE_WP_CRON', true );
    {{- end }}
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

{{- define "woocommerce.cronName" -}}
{{- printf "%s-cron" (include "woocommerce.fullname" .) -}}
{{- end -}}

{{/*
Where a pod runs: the operator's nodeSelector, tolerations and affinity, on
every workload. The pods that mount the WordPress content volume (WordPress,
the setup Job, the cron runs) must share a node, since the volume is
ReadWriteOnce: each gets a required podAffinity term for "a pod of this
release that mounts the content volume", added to the operator's own
podAffinity terms rather than replacing them. The pod matches the term
itself, so whichever of them the scheduler places first goes to any node (the
scheduler lets the first pod of a group with affinity to itself through) and
the others follow it: a setup pod created before WordPress is placed is not
refused (no FailedScheduling), and WordPress, placed second, joins it.
Call with (dict "ctx" $) or (dict "ctx" $ "content" true).
*/}}
{{- define "woocommerce.placement" -}}
{{- $affinity := deepCopy (default (dict) .ctx.Values.affinity) -}}
{{- if .content -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (include "woocommerce.contentSelector" .ctx | fromYaml) -}}
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
The pods of this release that mount the WordPress content volume.
*/}}
{{- define "woocommerce.contentSelector" -}}
matchLabels:
  app.kubernetes.io/name: {{ include "woocommerce.name" . }}
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: ["wordpress", "setup", "cron"]
{{- end -}}

{{/*
Security contexts of the wp-cli pods (the cron runs) and of the init
containers beside wp-cli, the same as the setup Job's own: uid/gid 33 (the
wordpress image's www-data, so files written to the content volume keep the
ownership WordPress expects), Pod Security "restricted".
*/}}
{{- define "woocommerce.cliPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 33
runAsGroup: 33
fsGroup: 33
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "woocommerce.cliContainerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
The WordPress content volume's directory. The official image's entrypoint,
run as uid 33, copies WordPress into /var/www/html with tar, which must set
the mode of that directory and can only if it owns it; a volume's root
belongs to root (local-path: 0777 root:root; fsGroup: 2775 root:33), so the
first start failed ("tar: .: Cannot change mode to rwxrwxrwx"). Every pod
mounts the directory html/ of the volume instead (subPath), made here first,
by an init container running as uid 33, so uid 33 owns it. It must exist
before any container mounts it: the kubelet would make a missing subPath
directory itself, as root.
With "migrate": content left at the volume's root by an earlier version of
the chart is moved into html/ (WordPress only, so two pods never move it at
once).
Call with (dict "ctx" $ "image" .Values.cli.image "resources" ...
"securityContext" ... "migrate" true).
*/}}
{{- define "woocommerce.contentDirInit" -}}
- name: content-dir
  image: {{ include "woocommerce.image" .image | quote }}
  imagePullPolicy: {{ .image.pullPolicy }}
  {{- with .securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  command:
    - /bin/sh
    - -c
    - |
      set -eu
      cd /volume
      mkdir -p html
      {{- if .migrate }}
      for entry in * .[!.]* ..?*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        case "$entry" in html | lost+found) continue ;; esac
        if [ -e "html/$entry" ] || [ -L "html/$entry" ]; then
          echo "content-dir: /$entry and /html/$entry both exist on the volume; keep one" >&2
          exit 1
        fi
        mv "$entry" html/
        echo "content-dir: moved /$entry to /html/$entry"
      done
      {{- end }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  volumeMounts:
    - name: content
      mountPath: /volume
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

{{/*
The chart's must-use plugins (files/mu-plugins), read-only at WPMU_PLUGIN_DIR:
the mount and the volume, for the pods that load them.
*/}}
{{- define "woocommerce.muPluginsMount" -}}
- name: mu-plugins
  mountPath: /var/www/store-mu-plugins
  readOnly: true
{{- end -}}
{{- define "woocommerce.muPluginsVolume" -}}
- name: mu-plugins
  configMap:
    name: {{ include "woocommerce.wordpressName" . }}-mu-plugins
{{- end -}}
