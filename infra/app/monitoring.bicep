// Log Analytics + workspace-based Application Insights with local (key) auth disabled: the app sends
// telemetry with its managed identity (Monitoring Metrics Publisher, see rbac.bicep).
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = appInsights.name
output logAnalyticsCustomerId string = workspace.properties.customerId
