{{/* Lab stand-in for gloo/gloo. */}}

{{- define "gloo.labels" -}}
app: gloo
vault-irsa-runbook/stand-in: "true"
{{- end -}}

{{/* A service account as the real chart renders it: named after its component, with extraAnnotations. */}}
{{- define "gloo.serviceAccount" -}}
{{- $name := index . 0 -}}
{{- $values := index . 1 -}}
{{- $root := index . 2 -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "gloo.labels" $root | nindent 4 }}
    gloo: {{ $name }}
  {{- with $values.serviceAccount.extraAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* A Deployment of one Gloo component; its pods run as the component's service account. */}}
{{- define "gloo.deployment" -}}
{{- $name := index . 0 -}}
{{- $values := index . 1 -}}
{{- $root := index . 2 -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "gloo.labels" $root | nindent 4 }}
    gloo: {{ $name }}
spec:
  replicas: {{ $values.deployment.replicas }}
  selector:
    matchLabels:
      gloo: {{ $name }}
  template:
    metadata:
      labels:
        gloo: {{ $name }}
    spec:
      serviceAccountName: {{ $name }}
      containers:
        - name: {{ $name }}
          image: "{{ $values.deployment.image.repository }}:{{ $values.deployment.image.tag }}"
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            {{- if $root.Values.global.glooStats.enabled }}
            # As the real chart: the stats server (Prometheus text at :9091/metrics) starts only with this.
            - name: START_STATS_SERVER
              value: "true"
            {{- end }}
{{- end -}}
