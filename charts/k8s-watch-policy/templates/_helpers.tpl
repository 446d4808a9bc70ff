{{/* The app.kubernetes.io/name label: fixed, the webhook finds its configurations by it. */}}
{{- define "kwp.name" -}}
k8s-watch-policy
{{- end }}

{{- define "kwp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 47 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "kwp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* The two labels the webhook selects its configurations by (--webhook-selector). */}}
{{- define "kwp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kwp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kwp.webhookSelector" -}}
app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/name={{ include "kwp.name" . }}
{{- end }}

{{- define "kwp.labels" -}}
helm.sh/chart: {{ include "kwp.chart" . }}
{{ include "kwp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-watch-policy
{{- end }}

{{/* Labels of one component: include "kwp.componentLabels" (list . "webhook") */}}
{{- define "kwp.componentLabels" -}}
{{ include "kwp.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "kwp.componentSelectorLabels" -}}
{{ include "kwp.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "kwp.webhookServiceName" -}}
{{ include "kwp.fullname" . }}-webhook
{{- end }}

{{- define "kwp.tlsSecretName" -}}
{{ include "kwp.fullname" . }}-webhook-tls
{{- end }}

{{/* The Lease the webhook replicas elect a certificate manager with: <--tls-secret>-certificates. */}}
{{- define "kwp.tlsLeaseName" -}}
{{ include "kwp.tlsSecretName" . }}-certificates
{{- end }}

{{- define "kwp.controllerLeaderLease" -}}
{{ include "kwp.fullname" . }}-controller
{{- end }}

{{- define "kwp.webhookServiceAccountName" -}}
{{ default (printf "%s-webhook" (include "kwp.fullname" .)) .Values.webhook.serviceAccount.name }}
{{- end }}

{{- define "kwp.controllerServiceAccountName" -}}
{{ default (printf "%s-controller" (include "kwp.fullname" .)) .Values.controller.serviceAccount.name }}
{{- end }}

{{- define "kwp.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{/* The DNS names of the webhook Service, as the serving certificate must carry them. */}}
{{- define "kwp.webhookDnsNames" -}}
{{- $svc := include "kwp.webhookServiceName" . -}}
{{ $svc }}.{{ .Release.Namespace }}.svc,{{ $svc }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- end }}

{{- define "kwp.electionNamespaces" -}}
{{- $election := dig "election" (dict) (.Values.config | default dict) -}}
{{- toJson (dig "namespaces" (list) $election) -}}
{{- end }}

{{- define "kwp.electionLeaseName" -}}
{{- $election := dig "election" (dict) (.Values.config | default dict) -}}
{{- dig "leaseName" "k8s-watcher" $election -}}
{{- end }}

{{/* Checks that JSON schema cannot express. */}}
{{- define "kwp.validate" -}}
{{- if eq (include "kwp.electionLeaseName" .) (include "kwp.controllerLeaderLease" .) -}}
{{- fail (printf "config.election.leaseName %q is the controller replicas' own leader Lease; choose another name" (include "kwp.electionLeaseName" .)) -}}
{{- end -}}
{{- if and (eq .Values.certificates.mode "certManager") (not (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}
{{- fail "certificates.mode=certManager needs cert-manager (API cert-manager.io/v1) in the cluster; install it first, or use certificates.mode=self (with `helm template`, pass --api-versions cert-manager.io/v1)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
{{- fail "serviceMonitor.enabled=true needs the Prometheus Operator CRDs (API monitoring.coreos.com/v1) in the cluster (with `helm template`, pass --api-versions monitoring.coreos.com/v1)" -}}
{{- end -}}
{{- end }}

{{/* The spread of one component's pods across nodes (empty when there is none). */}}
{{- define "kwp.topologySpread" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index . 2 -}}
{{- if or $values.topologySpread.enabled $values.topologySpreadConstraints -}}
topologySpreadConstraints:
{{- if $values.topologySpread.enabled }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ $values.topologySpread.whenUnsatisfiable }}
    # Tainted nodes the pods do not tolerate (virtual nodes, say) are not spread over.
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "kwp.componentSelectorLabels" (list $root $component) | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
{{- end }}
{{- with $values.topologySpreadConstraints }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}
{{- end }}
