// Role assignments on the Guard's own resources (home resource group). Names are deterministic
// guid(scope, principal, role) and every assignment names principalType, so re-deploys are no-ops.
param storageAccountName string
param deadLetterContainerName string
param applicationInsightsName string
param keyVaultName string
param guardPrincipalId string
param eventGridPrincipalId string

var roles = loadJsonContent('../generated/roles.json').builtin

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
  resource blobService 'blobServices' existing = {
    name: 'default'
    resource deadLetters 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Functions host (AzureWebJobsStorage) and the Flex Consumption deployment package.
resource guardBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, guardPrincipalId, roles['Storage Blob Data Owner'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Owner'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Queue trigger and the per-target work queue.
resource guardQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, guardPrincipalId, roles['Storage Queue Data Contributor'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Queue Data Contributor'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The drift ledger.
resource guardTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, guardPrincipalId, roles['Storage Table Data Contributor'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Table Data Contributor'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with Entra ID auth (App Insights local auth is disabled).
resource guardMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, guardPrincipalId, roles['Monitoring Metrics Publisher'])
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Monitoring Metrics Publisher'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault references for the alert secrets (read secret values only).
resource guardSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, guardPrincipalId, roles['Key Vault Secrets User'])
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Key Vault Secrets User'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Event Grid dead-lettering: its own identity, only on the dead-letter container.
resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetters.id, eventGridPrincipalId, roles['Storage Blob Data Contributor'])
  scope: storage::blobService::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Contributor'])
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}
