{{- define "helm-unstuck.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "helm-unstuck.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "helm-unstuck.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "helm-unstuck.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "helm-unstuck.selectorLabels" -}}
app.kubernetes.io/name: {{ include "helm-unstuck.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* One Deployment's pods: the instance's labels and the component (serve or worker). Called with (dict "root" $ "component" "serve"). */}}
{{- define "helm-unstuck.componentSelectorLabels" -}}
{{ include "helm-unstuck.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* serve's own ServiceAccount: no RBAC binds it, and its pods mount no token. */}}
{{- define "helm-unstuck.serveServiceAccountName" -}}
{{- if .Values.serve.serviceAccount.create }}
{{- default (printf "%s-serve" (include "helm-unstuck.fullname" .)) .Values.serve.serviceAccount.name }}
{{- else }}
{{- required "serve.serviceAccount.name is required when serve.serviceAccount.create is false" .Values.serve.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "helm-unstuck.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "helm-unstuck.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "helm-unstuck.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "helm-unstuck.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The username the API server gives this ServiceAccount's tokens: what the admission policy matches. */}}
{{- define "helm-unstuck.username" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "helm-unstuck.serviceAccountName" . }}
{{- end }}

{{/* Cluster-scoped objects are shared by every installation: name them by namespace and release. */}}
{{- define "helm-unstuck.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "helm-unstuck.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The permissions the activities use, and nothing else (activities/kubernetes.ts). */}}
{{- define "helm-unstuck.rules" -}}
# Helm's release records and helm-unstuck's backups: read history (get, list), back up (create),
# unlock (delete with preconditions, or update to mark failed), restore (create, update);
# the detector lists and watches the pending ones (metadata only, cluster-wide: cluster mode).
# The admission policy narrows create/update/delete to those objects only.
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [get, list, watch, create, update, delete]
# Runbook step 2: every Deployment healthy, allowing for the HPAs that scale them.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [list]
# Runbook step 6: read each object of the stuck release's chart (what the interrupted upgrade
# already applied; what the roll-forward changed). `get` only, on the kinds in rbac.readObjects;
# a kind left out is reported as "could not read (forbidden)", never a failure.
{{- range .Values.rbac.readObjects }}
- apiGroups: {{ toJson .apiGroups }}
  resources: {{ toJson .resources }}
  verbs: [get]
{{- end }}
{{- end }}

{{/* A secret mounted as a file: the volume name and the path. */}}
{{- define "helm-unstuck.secretPath" -}}
/etc/helm-unstuck/secrets/{{ . }}
{{- end }}
