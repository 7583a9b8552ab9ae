// The Guard's write rights on one declared resource group (main.bicep `guardWriteScopes`, the
// narrow form): Role Based Access Control Administrator with the same generated ABAC condition as
// the subscription-wide form (matrix roles only, service principals only, never the Guard itself,
// no deletes) and the subscription's custom remediator role. Nothing outside this resource group.
param guardPrincipalId string
@description('Id of the watched subscription\'s custom remediator role (watched-subscription.bicep).')
param remediatorRoleId string

var roles = loadJsonContent('../generated/roles.json').builtin
var abac = loadJsonContent('../generated/rbac-condition.json')

resource guardRbacAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, guardPrincipalId, roles['Role Based Access Control Administrator'])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Role Based Access Control Administrator'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    condition: replace(abac.condition, abac.guardPrincipalIdPlaceholder, guardPrincipalId)
    conditionVersion: abac.conditionVersion
    description: 'AKS Backup Guard: assign only the role-matrix roles, only to other service principals; never delete'
  }
}

resource guardRemediator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, guardPrincipalId, remediatorRoleId)
  properties: {
    roleDefinitionId: remediatorRoleId
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: remediation writes in this resource group'
  }
}
