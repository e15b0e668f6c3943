{{/*
One of the two Deployments, from one image: serve (receiver, approval page, API; no Kubernetes
credentials) or worker (the Temporal worker, the detector, the admission probe; the
ServiceAccount RBAC and the admission policy are written for). Called with
(dict "root" $ "component" "serve"|"worker").
*/}}
{{- define "helm-unstuck.deployment" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $v := index $root.Values $c }}
{{- $serve := eq $c "serve" }}
{{- /* Each referenced Secret this component reads: where it is mounted and which *_FILE variable names it. */}}
{{- $secrets := list }}
{{- if $serve }}
{{- with $root.Values.secrets.webhookToken }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "webhook-token" "env" "HELM_UNSTUCK_WEBHOOK_TOKEN_FILE" "ref" .) }}{{ end }}{{ end }}
{{- with $root.Values.secrets.sessionSecret }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "session-secret" "env" "HELM_UNSTUCK_SESSION_SECRET_FILE" "ref" .) }}{{ end }}{{ end }}
{{- with $root.Values.secrets.decisionKey }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "decision-key" "env" "HELM_UNSTUCK_DECISION_KEY_FILE" "ref" .) }}{{ end }}{{ end }}
{{- else }}
{{- with $root.Values.secrets.gitlabToken }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "gitlab-token" "env" "HELM_UNSTUCK_GITLAB_TOKEN_FILE" "ref" .) }}{{ end }}{{ end }}
{{- with $root.Values.kubeconfigSecret }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "kubeconfig" "ref" .) }}{{ end }}{{ end }}
{{- end }}
{{- with $root.Values.secrets.metricsToken }}{{ if .name }}{{ $secrets = append $secrets (dict "vol" "metrics-token" "env" "HELM_UNSTUCK_METRICS_TOKEN_FILE" "ref" .) }}{{ end }}{{ end }}
{{- $port := ternary $root.Values.containerPort $root.Values.worker.metricsPort $serve }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "helm-unstuck.fullname" $root }}-{{ $c }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "helm-unstuck.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $c }}
spec:
  replicas: {{ $v.replicaCount }}
  selector:
    matchLabels:
      {{- include "helm-unstuck.componentSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        # A new configuration restarts the pod: configuration is read once, at start.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "helm-unstuck.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $c }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- if $serve }}
      serviceAccountName: {{ include "helm-unstuck.serveServiceAccountName" $root }}
      # serve faces the web and holds no Kubernetes credentials: no token is mounted, and its
      # ServiceAccount is bound to nothing. What it needs from a cluster, the worker does.
      automountServiceAccountToken: false
      {{- else }}
      serviceAccountName: {{ include "helm-unstuck.serviceAccountName" $root }}
      # The in-cluster client reads the projected token; nothing else in the pod needs it.
      automountServiceAccountToken: true
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: helm-unstuck
          image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag | default $root.Chart.AppVersion }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          {{- with $root.Values.image.command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          args:
            {{- toYaml $v.args | nindent 12 }}
            {{- if not $serve }}
            - --listen
            - "0.0.0.0:{{ $port }}"
            {{- end }}
          env:
            - name: HELM_UNSTUCK_CONFIG
              value: /etc/helm-unstuck/config/{{ ternary "serve.yaml" "config.yaml" $serve }}
            - name: HELM_UNSTUCK_REQUIRE_CLUSTERS
              value: "1"
            # Node's heap for resources.limits.memory (values.yaml: nodeOptions, measured together).
            {{- with $root.Values.nodeOptions }}
            - name: NODE_OPTIONS
              value: {{ . | quote }}
            {{- end }}
            # Set here too: the environment wins over the config file, and the image sets its own.
            - name: HELM_UNSTUCK_LISTEN
              value: "0.0.0.0:{{ $port }}"
            - name: TEMPORAL_ADDRESS
              value: {{ required "temporal.address is required (host:port of the Temporal frontend)" $root.Values.temporal.address | quote }}
            - name: TEMPORAL_NAMESPACE
              value: {{ $root.Values.temporal.namespace | quote }}
            {{- if $root.Values.temporal.tls }}
            - name: TEMPORAL_TLS
              value: "true"
            {{- end }}
            {{- with $root.Values.temporal.apiKeySecret }}
            {{- if .name }}
            - name: TEMPORAL_API_KEY
              valueFrom:
                secretKeyRef: {name: {{ .name | quote }}, key: {{ .key | quote }}}
            {{- end }}
            {{- end }}
            {{- range $secrets }}
            {{- if .env }}
            - name: {{ .env }}
              value: {{ include "helm-unstuck.secretPath" .vol }}/{{ .ref.key }}
            {{- end }}
            {{- end }}
            # Node and the Temporal SDK may write temporary files; the root filesystem is read-only.
            - name: HOME
              value: /tmp
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
          {{- with $root.Values.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml ($v.resources | default $root.Values.resources) | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/helm-unstuck/config
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- range $secrets }}
            - name: {{ .vol }}
              mountPath: {{ include "helm-unstuck.secretPath" .vol }}
              readOnly: true
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "helm-unstuck.fullname" $root }}
        - name: tmp
          emptyDir: {sizeLimit: 256Mi}
        {{- range $secrets }}
        - name: {{ .vol }}
          secret:
            secretName: {{ .ref.name }}
            defaultMode: 0440
            items:
              - {key: {{ .ref.key | quote }}, path: {{ .ref.key | quote }}}
        {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
