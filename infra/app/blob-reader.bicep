// Storage Blob Data Reader for the Guard on one backup storage account, so that
// storage.container-dedicated can list the backup container (otherwise it reports unknown).
param storageAccountName string
param guardPrincipalId string

var roles = loadJsonContent('../generated/roles.json').builtin

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource guardBlobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, guardPrincipalId, roles['Storage Blob Data Reader'])
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Reader'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}
